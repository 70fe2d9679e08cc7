"""What Saathi's connectors for Meta's platforms (WhatsApp Cloud API, Messenger) share.

- `signature_ok`: `X-Hub-Signature-256` is `sha256=` + HMAC-SHA256 of the raw body keyed with
  the app secret, compared in constant time. No secret configured: nothing is accepted.
- `MetaInput`: the webhook blueprint. `GET /webhook` answers Meta's verify-token handshake;
  `POST /webhook` refuses (403) a body without a valid signature, answers 400 to a body that is
  not a JSON object, ignores (200) shapes it does not know, and runs one turn per message of the
  batch, in order, each message id once (`bot/channels/dedup.py`). Photos are downloaded into
  `SAATHI_MEDIA_DIR` before the turn. When a turn fails its claim is released and the answer is
  500, so Meta redelivers the batch and only the unhandled messages run again.
- `GraphClient`: HTTP calls to the Graph API with a timeout on every call; failures are logged
  (phone numbers and tokens masked) and never raised into the turn.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text, Tuple

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.dedup import DedupStore
from bot.channels.validation import check_text
from bot.config import BotSettings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_LONG_NUMBER = re.compile(r"\+?\d[\d -]{6,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
MAX_TEXT_FIELD = 300  # names, addresses and captions kept in metadata
POINTER = "👇"  # body of a button message whose text went out before it

# Image types saved for the agent console, told by their first bytes (never by a claimed type).
_IMAGE_MAGIC = ((b"\xff\xd8\xff", "image/jpeg", ".jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
                (b"GIF87a", "image/gif", ".gif"), (b"GIF89a", "image/gif", ".gif"))


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends with `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: Optional[str]) -> bool:
    if not secret or not header:
        return False
    match = _SIGNATURE.fullmatch(header.strip())
    if not match:
        return False
    return hmac.compare_digest(sign(secret, body)[len("sha256="):], match.group(1).lower())


def verify_challenge(args: Any, verify_token: str) -> Optional[str]:
    """Meta's subscription handshake: the challenge to echo, or None to refuse."""
    given = args.get("hub.verify_token") or ""
    if not verify_token or args.get("hub.mode") != "subscribe":
        return None
    if not hmac.compare_digest(given.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    return args.get("hub.challenge") or ""


def reply_text(payload: Any, title: Any) -> str:
    """What a pressed button or quick reply says to Rasa.

    A `/intent` payload goes to Rasa as it is (the NLU's SlashGuard lets only the configured
    commands through); any other payload is the platform's own id, so the title the shopper saw
    is the message.
    """
    payload = payload.strip() if isinstance(payload, str) else ""
    title = title.strip() if isinstance(title, str) else ""
    if payload.startswith("/"):
        return payload
    return title or payload


def mask_id(value: str) -> str:
    """`+919876543210` -> `+91******3210` (for logs)."""
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "***"


def mask_text(text: str, secrets_: Iterable[str] = ()) -> str:
    """Error text from the platform with numbers, e-mails and our own tokens masked."""
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "***")
    text = _EMAIL.sub("<email>", text)
    return _LONG_NUMBER.sub(lambda m: mask_id(re.sub(r"[ -]", "", m.group(0))), text)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int) -> List[str]:
    """Text in pieces of at most `limit` characters, cut at paragraphs, lines or spaces."""
    pieces, rest = [], text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def button_options(buttons: List[Dict[str, Any]]) -> List[Tuple[str, str]]:
    """(id, title) of each button: the id is the payload (or the title when there is none)."""
    options = []
    for button in buttons:
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or button.get("url") or title).strip()
        if payload or title:
            options.append((payload[:200] or title[:200], title or payload))
    return options


def text_field(value: Any) -> Optional[str]:
    return shorten(value.strip(), MAX_TEXT_FIELD) if isinstance(value, str) and value.strip() else None


def location_attachment(lat: Any, lon: Any, name: Any = None, address: Any = None) -> Optional[Dict[str, Any]]:
    """The metadata entry of a shared location, or None when the coordinates are not valid."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {"type": "location", "latitude": lat, "longitude": lon, "name": text_field(name),
            "address": text_field(address)}


def image_kind(data: bytes) -> Optional[Tuple[str, str]]:
    """(MIME type, extension) of an image shown by its first bytes, or None."""
    for magic, mime, ext in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def save_image(media_dir: Path, data: bytes) -> Optional[Tuple[str, str]]:
    """Save an image under a name made of its SHA-256: (file name, MIME type), or None if not an image."""
    kind = image_kind(data)
    if kind is None:
        return None
    mime, ext = kind
    name = hashlib.sha256(data).hexdigest()[:40] + ext
    target = media_dir / name
    if not target.exists():
        media_dir.mkdir(parents=True, exist_ok=True)
        partial = media_dir / f".{name}.{secrets.token_hex(4)}.part"
        partial.write_bytes(data)
        os.replace(partial, target)
    return name, mime


@dataclass
class MediaRef:
    """A photo to download before the turn: a WhatsApp media id or a Messenger URL."""

    ref: str
    caption: Optional[str] = None


@dataclass
class Inbound:
    """One shopper message of a webhook batch, ready for Rasa."""

    message_id: str
    sender_id: str
    text: str
    metadata: Dict[str, Any]
    media: List[MediaRef] = field(default_factory=list)


class GraphClient:
    """Calls to Meta's Graph API (or the test stack's recorder) with one aiohttp session."""

    def __init__(self, base_url: str, timeout: float, bearer: str = "", params: Optional[Dict[str, str]] = None,
                 channel: str = "meta") -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        self.params = params or {}
        self.channel = channel
        self._secrets = [s for s in [bearer, *self.params.values()] if s]
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._loop = loop
        return self._session

    def _log_failure(self, what: str, detail: str) -> None:
        logger.error("%s: %s failed: %s", self.channel, what, mask_text(detail, self._secrets)[:400])

    async def post(self, path: str, body: Dict[str, Any], what: str) -> bool:
        try:
            async with self._client().post(self.url(path), json=body, headers=self.headers,
                                           params=self.params) as r:
                if r.status >= 400:
                    self._log_failure(what, f"HTTP {r.status} {await r.text()}")
                    return False
                return True
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            self._log_failure(what, type(exc).__name__)
            return False

    async def get_json(self, path: str, what: str) -> Optional[Dict[str, Any]]:
        try:
            async with self._client().get(self.url(path), headers=self.headers, params=self.params) as r:
                if r.status >= 400:
                    self._log_failure(what, f"HTTP {r.status}")
                    return None
                data = await r.json(content_type=None)
                return data if isinstance(data, dict) else None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            self._log_failure(what, type(exc).__name__)
            return None

    async def get_bytes(self, url: str, limit: int, what: str, auth: bool = True) -> Optional[bytes]:
        """The body of `url`, or None when it fails or is larger than `limit` bytes."""
        try:
            async with self._client().get(url, headers=self.headers if auth else {}) as r:
                if r.status >= 400:
                    self._log_failure(what, f"HTTP {r.status}")
                    return None
                if (r.content_length or 0) > limit:
                    self._log_failure(what, f"larger than {limit} bytes")
                    return None
                data = await r.content.read(limit + 1)
                if len(data) > limit:
                    self._log_failure(what, f"larger than {limit} bytes")
                    return None
                return data
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            self._log_failure(what, type(exc).__name__)
            return None


def as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


class MetaInput(InputChannel):
    """The webhook of one of Meta's platforms; subclasses parse its shape and send its way."""

    def __init__(self, settings: BotSettings, verify_token: str, app_secret: str, client: GraphClient,
                 dedup: Optional[DedupStore] = None) -> None:
        self.settings = settings
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.client = client
        self.media_dir = Path(settings.media_dir)
        self.dedup = dedup or DedupStore(settings.channel_db)

    # -- what subclasses provide ------------------------------------------------------------
    def parse(self, body: Dict[str, Any]) -> List[Inbound]:
        """The shopper messages of a webhook body (anything else in it is ignored)."""
        raise NotImplementedError

    async def fetch_media(self, media: MediaRef) -> Optional[bytes]:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def message_text(self, text: Any, metadata: Dict[str, Any]) -> str:
        """Clean text within the length limit; an overlong text is cut and the cut noted."""
        value, problem = check_text(text if isinstance(text, str) else "", self.settings.max_message_chars)
        if problem is not None:
            metadata["truncated_from_chars"] = len(text)
            value, _ = check_text(text[: self.settings.max_message_chars], self.settings.max_message_chars)
        return value or ""

    async def _attach_media(self, msg: Inbound) -> None:
        attachments = msg.metadata.setdefault("attachments", [])
        for media in msg.media:
            data = await self.fetch_media(media)
            saved = save_image(self.media_dir, data) if data else None
            if data and saved is None:
                logger.warning("%s: a downloaded attachment is not an image: not saved", self.name())
            entry: Dict[str, Any] = {"type": "image", "caption": media.caption}
            if saved:
                entry.update(file=saved[0], mime=saved[1])
            else:
                entry["error"] = "the photo could not be downloaded"
            attachments.append(entry)

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    async def handle(self, msg: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> bool:
        """One turn; False when it failed (its claim is released for Meta's redelivery)."""
        channel = self.name()
        if not await self._run(self.dedup.claim, channel, msg.message_id):
            logger.info("%s: message %s already handled: skipped", channel, msg.message_id)
            return True
        try:
            if msg.media:
                await self._attach_media(msg)
            await on_new_message(UserMessage(
                msg.text, self.get_output_channel(), msg.sender_id, input_channel=channel,
                message_id=msg.message_id, metadata=msg.metadata,
            ))
        except Exception as exc:  # the turn failed: let Meta deliver it again
            logger.error("%s: turn of message %s failed (%s)", channel, msg.message_id, type(exc).__name__,
                         exc_info=logger.isEnabledFor(logging.DEBUG))
            await self._run(self.dedup.release, channel, msg.message_id)
            return False
        await self._run(self.dedup.done, channel, msg.message_id)
        return True

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"saathi_{self.name()}_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            challenge = verify_challenge(request.args, self.verify_token)
            if challenge is None:
                return response.json({"error": "verification failed"}, status=403)
            return response.text(challenge)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            raw = request.body or b""
            if not signature_ok(self.app_secret, raw, request.headers.get(SIGNATURE_HEADER)):
                logger.warning("%s: refused a webhook POST without a valid %s%s", self.name(), SIGNATURE_HEADER,
                               "" if self.app_secret else " (no app secret configured)")
                return response.json({"error": f"missing or invalid {SIGNATURE_HEADER}"}, status=403)
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
                return response.json({"error": "request body is not valid JSON"}, status=400)
            if not isinstance(body, dict):
                return response.json({"error": "request body must be a JSON object"}, status=400)
            try:
                messages = self.parse(body)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a shape no parser expected
                logger.warning("%s: webhook body of an unexpected shape (%s)", self.name(), type(exc).__name__)
                return response.json({"error": "webhook body of an unexpected shape"}, status=400)
            failed = 0
            for msg in messages:
                failed += not await self.handle(msg, on_new_message)
            if failed:
                return response.json({"error": f"{failed} message(s) could not be handled; deliver again"},
                                     status=500)
            return response.json({"status": "ok", "messages": len(messages)})

        return bp


class MetaOutput(OutputChannel):
    """Shared sending logic: subclasses turn a message into the platform's request bodies."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """A response's `custom` payload: the platform's own message object, sent as it is."""
        await self.send_raw(recipient_id, json_message)

    async def send_raw(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        raise NotImplementedError
