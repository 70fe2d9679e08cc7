"""URLs of Rasa's HTTP API for the app side's command-line tools (export, erase, notify)."""
from __future__ import annotations

from urllib.parse import quote

# Rasa 3.6 (Sanic 21.12) does not unquote path parameters: characters legal in a path segment stay
# literal, or "+919876543210" (a WhatsApp sender id) would name another conversation, "%2B9198...".
PATH_SAFE = "+:@!$&'()*,;="


def conversation_url(rasa_url: str, sender_id: str, suffix: str = "tracker") -> str:
    return f"{rasa_url.rstrip('/')}/conversations/{quote(sender_id, safe=PATH_SAFE)}/{suffix}"
