"""All settings of the Rasa side, read from the environment and the project's `.env`.

The environment wins over `.env`. Read when a component or connector is created, never at
import time.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from dotenv import dotenv_values

from bot.nlu.entity_rules import DEFAULT_ORDER_ID_PATTERN

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _environ(env: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    if env is not None:
        return dict(env)
    path = Path(os.environ.get("SAATHI_ENV_FILE", PROJECT_ROOT / ".env"))
    values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    values.update(os.environ)
    return values


@dataclass(frozen=True)
class BotSettings:
    order_id_pattern: str
    default_country: str
    max_message_chars: int
    bridge_url: str = "http://127.0.0.1:8000"
    bridge_token: str = ""
    http_timeout: float = 5.0
    # Twilio WhatsApp (bot/channels/twilio_whatsapp.py)
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_number: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    twilio_webhook_url: str = ""
    media_dir: str = ".run/media"  # photos shoppers sent, saved by the channel connectors
    # Meta's WhatsApp Cloud API and Messenger (bot/channels/whatsapp.py, messenger.py)
    graph_api_url: str = "https://graph.facebook.com/v19.0"
    meta_app_secret: str = ""  # signs every webhook POST (X-Hub-Signature-256)
    whatsapp_verify_token: str = ""
    whatsapp_token: str = ""
    whatsapp_phone_number_id: str = ""
    messenger_verify_token: str = ""
    messenger_page_token: str = ""
    media_max_bytes: int = 10 * 1024 * 1024
    channel_db: str = "sqlite:///.run/channels.db"  # message ids already handled (bot/channels/dedup.py)
    # Web origins (besides the bridge's own) allowed to open the website chat socket; `make run`
    # passes the same list to `rasa run --cors` (bot/channels/origins.py).
    cors_origins: tuple[str, ...] = ()


def load_settings(env: Optional[Mapping[str, str]] = None) -> BotSettings:
    values = _environ(env)
    return BotSettings(
        order_id_pattern=values.get("SAATHI_ORDER_ID_PATTERN") or DEFAULT_ORDER_ID_PATTERN,
        default_country=values.get("SAATHI_DEFAULT_COUNTRY", "IN").upper(),
        max_message_chars=int(values.get("SAATHI_MAX_MESSAGE_CHARS", "4000")),
        bridge_url=values.get("SAATHI_BRIDGE_URL", f"http://127.0.0.1:{values.get('SAATHI_BRIDGE_PORT', '8000')}"),
        bridge_token=values.get("SAATHI_BRIDGE_TOKEN", ""),
        http_timeout=float(values.get("SAATHI_HTTP_TIMEOUT", "5")),
        twilio_account_sid=values.get("SAATHI_TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token=values.get("SAATHI_TWILIO_AUTH_TOKEN", ""),
        twilio_number=values.get("SAATHI_TWILIO_NUMBER", ""),
        twilio_api_url=(values.get("SAATHI_TWILIO_API_URL") or "https://api.twilio.com").rstrip("/"),
        twilio_webhook_url=values.get("SAATHI_TWILIO_WEBHOOK_URL", ""),
        media_dir=values.get("SAATHI_MEDIA_DIR")
        or str(Path(values.get("SAATHI_RUN_DIR", str(PROJECT_ROOT / ".run"))) / "media"),
        graph_api_url=(values.get("SAATHI_GRAPH_API_URL") or "https://graph.facebook.com/v19.0").rstrip("/"),
        meta_app_secret=values.get("SAATHI_META_APP_SECRET", ""),
        whatsapp_verify_token=values.get("SAATHI_WHATSAPP_VERIFY_TOKEN", ""),
        whatsapp_token=values.get("SAATHI_WHATSAPP_TOKEN", ""),
        whatsapp_phone_number_id=values.get("SAATHI_WHATSAPP_PHONE_NUMBER_ID", ""),
        messenger_verify_token=values.get("SAATHI_MESSENGER_VERIFY_TOKEN", ""),
        messenger_page_token=values.get("SAATHI_MESSENGER_PAGE_TOKEN", ""),
        media_max_bytes=int(values.get("SAATHI_MEDIA_MAX_BYTES") or 10 * 1024 * 1024),
        channel_db=values.get("SAATHI_CHANNEL_DB")
        or f"sqlite:///{Path(values.get('SAATHI_RUN_DIR', str(PROJECT_ROOT / '.run'))) / 'channels.db'}",
        cors_origins=tuple(o for o in re.split(r"[\s,]+", values.get("SAATHI_CORS_ORIGINS", "")) if o),
    )
