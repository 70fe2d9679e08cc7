"""All settings of the Rasa side, read from the environment and the project's `.env`.

The environment wins over `.env`. Read when a component or connector is created, never at
import time.
"""
from __future__ import annotations

import os
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


def load_settings(env: Optional[Mapping[str, str]] = None) -> BotSettings:
    values = _environ(env)
    return BotSettings(
        order_id_pattern=values.get("SAATHI_ORDER_ID_PATTERN") or DEFAULT_ORDER_ID_PATTERN,
        default_country=values.get("SAATHI_DEFAULT_COUNTRY", "IN").upper(),
        max_message_chars=int(values.get("SAATHI_MAX_MESSAGE_CHARS", "4000")),
        bridge_url=values.get("SAATHI_BRIDGE_URL", f"http://127.0.0.1:{values.get('SAATHI_BRIDGE_PORT', '8000')}"),
        bridge_token=values.get("SAATHI_BRIDGE_TOKEN", ""),
        http_timeout=float(values.get("SAATHI_HTTP_TIMEOUT", "5")),
    )
