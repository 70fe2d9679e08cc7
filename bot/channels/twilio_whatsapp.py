"""WhatsApp through Twilio, with Twilio's request signature checked (replaces Rasa's `twilio`).

Rasa's own `twilio` connector trusts every POST. This one:
- checks `X-Twilio-Signature` as Twilio documents it: base64 HMAC-SHA1, keyed with the auth
  token, over the webhook URL Twilio called followed by every POST parameter sorted by name
  (name and value concatenated), compared in constant time. Behind a proxy the URL Sanic sees
  is not the one Twilio called, so `SAATHI_TWILIO_WEBHOOK_URL` (the URL configured in Twilio)
  wins when set. Unsigned, wrongly signed, or any POST while no auth token is configured: 403;
- answers Twilio at once with empty TwiML and runs the turn in the background; replies go out
  through Twilio's REST Messages API (buttons as a numbered list; a shopper replying with the
  number is taken as pressing that button);
- handles each `MessageSid` once, even when Twilio retries;
- downloads media (basic auth) into `SAATHI_MEDIA_DIR` and passes it, and shared locations, as
  `metadata["attachments"]`; the sender id is the shopper's E.164 number (`+91...`), so the order
  flow can treat a sender whose number is on an order as verified.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Text
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.dedup import DedupStore
from bot.channels.meta import button_options, location_attachment, mask_id, mask_text, reply_text, save_image, split_text
from bot.channels.validation import check_text
from bot.config import BotSettings, load_settings
from bot.stores import guard
from bot.nlu.text import ascii_digits

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
WHATSAPP_FROM = re.compile(r"whatsapp:(\+[1-9]\d{6,14})")
SID = re.compile(r"[A-Za-z0-9]{10,64}")
MAX_FORM_BYTES = 64 * 1024  # Twilio's messaging webhooks are a few KB
MAX_FIELDS = 200
MAX_MEDIA = 10  # WhatsApp sends one medium per message; Twilio allows up to 10
MAX_BODY_CHARS = 1600  # Twilio's limit for one WhatsApp message body
MENU_MEMORY = 10000  # shoppers whose last button list is remembered


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's request signature: base64(HMAC-SHA1(token, url + name1 value1 + name2 value2 ...)).

    Parameters are sorted by name (case-sensitive, code point order); a name sent more than
    once contributes each of its values, sorted, as Twilio's own libraries do.
    """
    grouped: Dict[str, set] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> List[str]:
    """The URL as given, and with the default port added or removed: Twilio signs either form."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or (port is not None and port != default):
        return [url]
    if port == default:
        return [url, urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))]
    return [url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))]


def signature_valid(auth_token: str, url: str, params: Sequence[tuple[str, str]], signature: str) -> bool:
    if not auth_token or not signature:
        return False
    given = signature.strip().encode("utf-8", "replace")
    ok = False
    for candidate in _url_variants(url):
        ok |= hmac.compare_digest(twilio_signature(auth_token, candidate, params).encode("ascii"), given)
    return ok


class _Menus:
    """The payloads of the last buttons sent to each shopper, to map a numbered reply back."""

    def __init__(self, limit: int = MENU_MEMORY) -> None:
        self.limit = limit
        self._menus: "OrderedDict[str, List[str]]" = OrderedDict()

    def remember(self, recipient: str, payloads: List[str]) -> None:
        self._menus.pop(recipient, None)
        self._menus[recipient] = payloads
        if len(self._menus) > self.limit:
            self._menus.popitem(last=False)

    def choose(self, recipient: str, text: str) -> Optional[str]:
        """The payload the shopper picked by typing its number, or None."""
        number = ascii_digits(text).strip().rstrip(".)")
        payloads = self._menus.get(recipient)
        if not payloads or not number.isdigit() or not 1 <= int(number) <= len(payloads):
            return None
        del self._menus[recipient]
        return payloads[int(number) - 1]


class TwilioWhatsAppOutput(OutputChannel):
    """Sends messages through Twilio's REST Messages API; never raises on a failed send."""

    @classmethod
    def name(cls) -> Text:
        return "twilio_whatsapp"

    def __init__(self, settings: BotSettings, menus: Optional[_Menus] = None) -> None:
        self.settings = settings
        self.menus = menus or _Menus()
        self.url = (
            f"{settings.twilio_api_url}/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json"
        )

    async def _post(self, recipient_id: Text, fields: Dict[str, str]) -> bool:
        s = self.settings
        if not (s.twilio_account_sid and s.twilio_auth_token and s.twilio_number):
            logger.error("twilio_whatsapp: account SID, auth token or number not configured; reply to %s dropped",
                         mask_id(recipient_id))
            return False
        to = recipient_id if recipient_id.startswith("whatsapp:") else f"whatsapp:{recipient_id}"
        data = {"From": s.twilio_number, "To": to, **fields}
        try:
            timeout = aiohttp.ClientTimeout(total=s.http_timeout)
            auth = aiohttp.BasicAuth(s.twilio_account_sid, s.twilio_auth_token)
            async with aiohttp.ClientSession(timeout=timeout, auth=auth) as session:
                async with session.post(self.url, data=data) as resp:
                    if resp.status < 300:
                        return True
                    detail = (await resp.text())[:300]
                    logger.error("twilio_whatsapp: sending to %s failed with HTTP %s: %s", mask_id(recipient_id),
                                 resp.status, mask_text(detail, [s.twilio_auth_token]))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as e:
            logger.error("twilio_whatsapp: sending to %s failed: %s", mask_id(recipient_id), type(e).__name__)
        return False

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for part in split_text(text or "", MAX_BODY_CHARS):
            await self._post(recipient_id, {"Body": part})

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        options = button_options(buttons)
        lines = [f"{i}. {title}" for i, (_, title) in enumerate(options, start=1)]
        self.menus.remember(recipient_id, [reply_text(payload, title) for payload, title in options])
        await self.send_text_message(recipient_id, "\n".join([text or "", *lines]).strip())

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._post(recipient_id, {"MediaUrl": image})

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        text = json_message.get("text") or json_message.get("body") if isinstance(json_message, dict) else None
        if isinstance(text, str) and text.strip():
            await self.send_text_message(recipient_id, text)
        else:
            logger.warning("twilio_whatsapp: custom JSON without text not sent to %s", mask_id(recipient_id))


class _Rejected(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


class TwilioWhatsAppInput(InputChannel):
    """`/webhooks/twilio_whatsapp/webhook`: Twilio's incoming-message webhook for WhatsApp."""

    @classmethod
    def name(cls) -> Text:
        return "twilio_whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()  # secrets come from bot.config, never from credentials.yml

    def __init__(self, settings: Optional[BotSettings] = None) -> None:
        self.settings = settings or load_settings()
        self.media_dir = Path(self.settings.media_dir)
        self.menus = _Menus()
        self.dedup = DedupStore(self.settings.channel_db)
        self._tasks: set = set()

    def get_output_channel(self) -> OutputChannel:
        return TwilioWhatsAppOutput(self.settings, self.menus)

    # --- request checks -------------------------------------------------------------------
    def _params(self, request: Request) -> List[tuple[str, str]]:
        ctype = (request.content_type or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise _Rejected(415, "expected an application/x-www-form-urlencoded body")
        body = request.body or b""
        if len(body) > MAX_FORM_BYTES:
            raise _Rejected(413, f"body larger than {MAX_FORM_BYTES} bytes")
        try:
            return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict",
                             max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise _Rejected(400, "body is not a valid UTF-8 form")

    def _check_signature(self, request: Request, params: Sequence[tuple[str, str]]) -> None:
        token = self.settings.twilio_auth_token
        if not token:
            raise _Rejected(403, "no Twilio auth token is configured: requests cannot be verified")
        url = self.settings.twilio_webhook_url or request.url
        if not signature_valid(token, url, params, request.headers.get("X-Twilio-Signature", "")):
            raise _Rejected(403, "missing or invalid X-Twilio-Signature")

    def _message(self, form: Mapping[str, str]) -> Dict[str, Any]:
        """What the form says: sender, text, sid, media and location; _Rejected if malformed."""
        sender = WHATSAPP_FROM.fullmatch(form.get("From", "").strip())
        if not sender:
            raise _Rejected(400, "'From' must be a WhatsApp number: whatsapp:+<country><number>")
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
        if not SID.fullmatch(sid):
            raise _Rejected(400, "'MessageSid' is missing or malformed")
        text, problem = check_text(form.get("Body", ""), self.settings.max_message_chars)
        if problem:
            raise _Rejected(problem.status, problem.error)
        media = []
        raw_count = form.get("NumMedia", "0").strip() or "0"
        if not raw_count.isascii() or not raw_count.isdigit() or int(raw_count) > MAX_MEDIA:
            raise _Rejected(400, f"'NumMedia' must be a whole number from 0 to {MAX_MEDIA}")
        for i in range(int(raw_count)):
            url, mime = form.get(f"MediaUrl{i}", ""), form.get(f"MediaContentType{i}", "")
            if urlsplit(url).scheme not in ("http", "https") or not re.fullmatch(r"[\w.+-]+/[\w.+-]+", mime):
                raise _Rejected(400, f"'MediaUrl{i}' / 'MediaContentType{i}' missing or malformed")
            media.append((url, mime.lower()))
        location = None
        if form.get("Latitude") or form.get("Longitude"):
            location = location_attachment(form.get("Latitude"), form.get("Longitude"),
                                           form.get("Label"), form.get("Address"))
            if location is None:
                raise _Rejected(400, "'Latitude' / 'Longitude' must be numbers within range")
        return {"sender": sender.group(1), "text": text, "sid": sid, "media": media, "location": location}

    # --- the turn -------------------------------------------------------------------------
    async def _fetch(self, sid: str, index: int, url: str) -> Optional[bytes]:
        """One medium, fetched with the account's basic auth; None when it fails or is too large."""
        s, limit = self.settings, self.settings.media_max_bytes
        what = f"twilio_whatsapp: media {index} of {sid}"
        try:
            timeout = aiohttp.ClientTimeout(total=max(s.http_timeout, 30.0))
            auth = aiohttp.BasicAuth(s.twilio_account_sid, s.twilio_auth_token)
            async with aiohttp.ClientSession(timeout=timeout, auth=auth) as session:
                async with session.get(url) as resp:
                    if resp.status >= 300:
                        logger.error("%s: HTTP %s", what, resp.status)
                        return None
                    data = await resp.content.read(limit + 1)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as e:
            logger.error("%s not downloaded: %s", what, type(e).__name__)
            return None
        if len(data) > limit:
            logger.error("%s larger than %s bytes: dropped", what, limit)
            return None
        return data

    async def _attachments(self, msg: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Photos saved into the media folder (type told by their bytes) and the shared location."""
        out: List[Dict[str, Any]] = []
        for i, (url, mime) in enumerate(msg["media"]):
            entry: Dict[str, Any] = {"type": "image", "mime": mime, "caption": msg["text"]}
            if not mime.startswith("image/"):
                entry.update(type=mime.split("/")[0], error="only photos are kept")
                out.append(entry)
                continue
            data = await self._fetch(msg["sid"], i, url)
            saved = save_image(self.media_dir, data) if data else None
            if saved:
                entry.update(file=saved[0], mime=saved[1])
            else:
                entry["error"] = "the photo could not be downloaded"
            out.append(entry)
        if msg["location"]:
            out.append(msg["location"])
        return out

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    async def _handle(self, msg: Dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """One turn, in the background (Twilio already has its answer); never raises."""
        try:
            attachments = await self._attachments(msg)
            text = msg["text"]
            if not attachments:
                text = self.menus.choose(msg["sender"], text) or text
            metadata: Dict[str, Any] = {"channel_user": msg["sender"]}
            if attachments:
                metadata["attachments"] = attachments
            await on_new_message(UserMessage(
                text, self.get_output_channel(), msg["sender"], input_channel=self.name(),
                message_id=msg["sid"], metadata=metadata,
            ))
        except Exception as e:  # one bad turn must not take the channel down
            logger.error("twilio_whatsapp: turn of message %s from %s failed (%s)", msg["sid"],
                         mask_id(msg["sender"]), type(e).__name__, exc_info=logger.isEnabledFor(logging.DEBUG))
            await self._run(self.dedup.release, self.name(), msg["sid"])
            return
        await self._run(self.dedup.done, self.name(), msg["sid"])

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("saathi_twilio_whatsapp_webhook", __name__)
        guard.install(bp)
        # Tracker store down: the shopper is asked (in their language) to send the message again.
        on_new_message = guard.guarded(on_new_message, reraise=True)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                params = self._params(request) if self.settings.twilio_auth_token else []
                self._check_signature(request, params)
                form = {name: value for name, value in params}  # Twilio sends each field once
                msg = self._message(form)
            except _Rejected as r:
                return response.json({"error": r.error}, status=r.status)
            if await self._run(self.dedup.claim, self.name(), msg["sid"]):
                task = asyncio.get_running_loop().create_task(self._handle(msg, on_new_message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                logger.info("twilio_whatsapp: message %s already handled (Twilio retry)", msg["sid"])
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return bp
