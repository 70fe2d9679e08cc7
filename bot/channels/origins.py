"""Which web pages may open the website chat socket: the shop's origins and the bridge's own.

Browsers send `Origin` on every cross-origin request and on every WebSocket handshake; a page on
an origin that is not listed must not be able to chat through a shopper's browser (CORS only
guards HTTP reads, and WebSockets have no CORS at all). Allowed: the origins in
`SAATHI_CORS_ORIGINS` (commas or spaces between them) and the origin of `SAATHI_BRIDGE_URL`,
which serves the demo shop and the widget. A request without `Origin` is not from a browser
page (curl, bench/loadtest.py, server-side clients); such a client can send any header it likes,
so refusing it would protect nothing: it is allowed. `null` (sandboxed frames, files) is refused.
`*` is not accepted here: the socket is always limited to a list.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: Any) -> Optional[str]:
    """`scheme://host[:port]` in lower case without a default port, or None if `value` is not an
    http(s) origin (a trailing `/` and a path are ignored, so a URL names its origin)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


class OriginPolicy:
    """The set of allowed origins; `allows(origin)` for a request's `Origin` header value."""

    def __init__(self, origins: Iterable[str]) -> None:
        allowed: set[str] = set()
        for value in origins:
            origin = normalise_origin(value)
            if origin is None:
                logger.error("SAATHI_CORS_ORIGINS: %r is not an http(s) origin; ignored", value)
            else:
                allowed.add(origin)
        self.origins: frozenset[str] = frozenset(allowed)

    def allows(self, origin: Optional[str]) -> bool:
        if origin is None or origin == "":
            return True  # not a browser page; see the module's docstring
        normal = normalise_origin(origin)
        return normal is not None and normal in self.origins


def socket_policy(settings: Any) -> OriginPolicy:
    """The website socket's policy from the Rasa side's settings (bot/config.py)."""
    return OriginPolicy([*settings.cors_origins, settings.bridge_url])
