"""WhatsApp Cloud API (Meta) connector: `/webhooks/whatsapp/webhook`.

Inbound (checks in bot/channels/meta.py): text; interactive button and list replies and
template quick-reply buttons (a `/intent` id goes to Rasa as it is, otherwise the title);
photos (downloaded through the Graph API into `SAATHI_MEDIA_DIR`; the message text is the
caption or "[photo]"); locations; other media as a marker ("[audio]", ...). Attachments go into
`metadata["attachments"]`, the shopper's number into `metadata["channel_user"]`. The sender id
is the shopper's number in E.164 (`+919876543210`) and the input channel `whatsapp`: the order
flow treats such a sender as verified for orders placed with that number.

Outbound: text, reply buttons (up to 3, titles cut to 20 characters), lists (more than 3
buttons; up to 10 rows per list message, titles cut to 24), images by link, and a response's
`custom` payload as a WhatsApp message object. Settings: `SAATHI_GRAPH_API_URL`,
`SAATHI_META_APP_SECRET`, `SAATHI_WHATSAPP_VERIFY_TOKEN`, `SAATHI_WHATSAPP_TOKEN`,
`SAATHI_WHATSAPP_PHONE_NUMBER_ID`; credentials.yml keys `verify_token`, `app_secret`,
`access_token`, `phone_number_id`, `graph_api_url` override them.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel

from bot.channels.meta import (POINTER, GraphClient, Inbound, MediaRef, MetaInput, MetaOutput, as_dict, as_list,
                               button_options, location_attachment, mask_id, reply_text, shorten, split_text,
                               text_field)
from bot.config import BotSettings, load_settings

logger = logging.getLogger(__name__)

WA_ID = re.compile(r"[1-9]\d{6,14}")
MEDIA_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
MAX_TEXT = 4096
MAX_BODY = 1024  # body of an interactive message
MAX_BUTTONS, MAX_BUTTON_TITLE = 3, 20
MAX_ROWS, MAX_ROW_TITLE, MAX_ROW_DESCRIPTION = 10, 24, 72
MARKED = ("audio", "video", "document", "sticker", "contacts")  # answered, no attachment saved
MESSAGE_TYPES = ("text", "image", "interactive", "template", "location", "document", "audio", "video", "sticker",
                 "contacts", "reaction")
LIST_LABEL = {"hi": "विकल्प", "bn": "বিকল্প", "en": "Options"}


def e164(wa_id: Any) -> Optional[str]:
    return f"+{wa_id}" if isinstance(wa_id, str) and WA_ID.fullmatch(wa_id) else None


def _script(text: str) -> str:
    if re.search(r"[\u0900-\u097f]", text):
        return "hi"
    if re.search(r"[\u0980-\u09ff]", text):
        return "bn"
    return "en"


def interactive_body(text: str) -> Tuple[str, str]:
    """(text to send first as a plain message, body of the interactive message).

    An interactive body holds 1,024 characters; a longer text goes first as plain text and
    its last paragraph (usually the question the buttons answer) becomes the body.
    """
    text = text.strip()
    if not text:
        return "", POINTER
    if len(text) <= MAX_BODY:
        return "", text
    cut = text.rfind("\n\n")
    if 0 < cut and len(text) - cut - 2 <= MAX_BODY:
        return text[:cut], text[cut + 2:].strip() or POINTER
    return text, POINTER


class WhatsAppOutput(MetaOutput):
    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    def __init__(self, client: GraphClient, phone_number_id: str) -> None:
        super().__init__(client)
        self.phone_number_id = phone_number_id

    async def _post(self, recipient_id: Text, fields: Dict[str, Any], what: str) -> bool:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": recipient_id.lstrip("+"), **fields}
        return await self.client.post(f"{self.phone_number_id}/messages", body,
                                      f"sending a {what} to {mask_id(recipient_id)}")

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for piece in split_text(text, MAX_TEXT):
            await self._post(recipient_id, {"type": "text", "text": {"body": piece, "preview_url": False}}, "text")

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        options = button_options(buttons)
        if not options:
            await self.send_text_message(recipient_id, text)
            return
        first, body = interactive_body(text)
        if first:
            await self.send_text_message(recipient_id, first)
        if len(options) <= MAX_BUTTONS:
            action = {"buttons": [{"type": "reply", "reply": {"id": oid, "title": shorten(title, MAX_BUTTON_TITLE)}}
                                  for oid, title in options]}
            await self._post(recipient_id, {"type": "interactive", "interactive": {
                "type": "button", "body": {"text": body}, "action": action}}, "button message")
            return
        label = LIST_LABEL[_script(text)]
        for start in range(0, len(options), MAX_ROWS):
            rows = []
            for oid, title in options[start:start + MAX_ROWS]:
                row = {"id": oid, "title": shorten(title, MAX_ROW_TITLE)}
                if len(title) > MAX_ROW_TITLE:
                    row["description"] = shorten(title, MAX_ROW_DESCRIPTION)
                rows.append(row)
            await self._post(recipient_id, {"type": "interactive", "interactive": {
                "type": "list", "body": {"text": body if start == 0 else POINTER},
                "action": {"button": label, "sections": [{"title": shorten(label, MAX_ROW_TITLE), "rows": rows}]},
            }}, "list message")

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._post(recipient_id, {"type": "image", "image": {"link": image}}, "image")

    async def send_raw(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in MESSAGE_TYPES or not isinstance(message.get(kind), dict):
            logger.info("whatsapp: a custom payload that is not a WhatsApp message was not sent")
            return
        await self._post(recipient_id, message, f"custom {message['type']} message")


class WhatsAppInput(MetaInput):
    """`/webhooks/whatsapp/webhook`: the WhatsApp Business Account's `messages` webhook."""

    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(load_settings(), credentials or {})

    def __init__(self, settings: BotSettings, credentials: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        given = {k: str(v) for k, v in (credentials or {}).items() if v not in (None, "")}
        token = given.get("access_token", settings.whatsapp_token)
        client = GraphClient(given.get("graph_api_url", settings.graph_api_url), settings.http_timeout,
                             bearer=token, channel="whatsapp")
        super().__init__(settings, given.get("verify_token", settings.whatsapp_verify_token),
                         given.get("app_secret", settings.meta_app_secret), client, **kwargs)
        self.output = WhatsAppOutput(client, given.get("phone_number_id", settings.whatsapp_phone_number_id))

    def get_output_channel(self) -> OutputChannel:
        return self.output

    def parse(self, body: Dict[str, Any]) -> List[Inbound]:
        if body.get("object", "whatsapp_business_account") != "whatsapp_business_account":
            return []
        out = []
        for entry in as_list(body.get("entry")):
            for change in as_list(as_dict(entry).get("changes")):
                value = as_dict(as_dict(change).get("value"))
                for message in as_list(value.get("messages")):  # `statuses` and the rest: ignored
                    inbound = self._message(as_dict(message))
                    if inbound is not None:
                        out.append(inbound)
        return out

    def _message(self, m: Dict[str, Any]) -> Optional[Inbound]:
        mid, sender, kind = m.get("id"), e164(m.get("from")), m.get("type")
        if not isinstance(mid, str) or not mid or len(mid) > 255 or sender is None:
            logger.warning("whatsapp: a message without a valid id or sender was ignored")
            return None
        metadata: Dict[str, Any] = {"channel_user": sender}
        media: List[MediaRef] = []
        if kind == "text":
            text = as_dict(m.get("text")).get("body")
        elif kind == "interactive":
            interactive = as_dict(m.get("interactive"))
            reply = as_dict(interactive.get(interactive.get("type"))) if interactive.get("type") in (
                "button_reply", "list_reply") else {}
            text = reply_text(reply.get("id"), reply.get("title"))
        elif kind == "button":  # a quick-reply button of a template message
            button = as_dict(m.get("button"))
            text = reply_text(button.get("payload"), button.get("text"))
        elif kind == "image":
            image = as_dict(m.get("image"))
            caption = text_field(image.get("caption"))
            if not isinstance(image.get("id"), str) or not MEDIA_ID.fullmatch(image["id"]):
                logger.warning("whatsapp: a photo without a valid media id was ignored")
                return None
            media.append(MediaRef(image["id"], caption))
            text = image["caption"] if caption else "[photo]"
        elif kind == "location":
            loc = as_dict(m.get("location"))
            place = location_attachment(loc.get("latitude"), loc.get("longitude"), loc.get("name"), loc.get("address"))
            if place is None:
                logger.warning("whatsapp: a location without valid coordinates was ignored")
                return None
            metadata["attachments"] = [place]
            text = "[location]"
        elif kind in MARKED:
            text = text_field(as_dict(m.get(kind)).get("caption")) or f"[{kind}]"
        else:  # reactions, unsupported, system messages
            logger.info("whatsapp: a %r message was ignored", str(kind)[:30])
            return None
        if not isinstance(text, str) or not text.strip():
            logger.warning("whatsapp: a %r message without text was ignored", kind)
            return None
        return Inbound(mid, sender, self.message_text(text, metadata), metadata, media)

    async def fetch_media(self, media: MediaRef) -> Optional[bytes]:
        """Graph: GET /{media-id} gives a short-lived URL, fetched with the same bearer token."""
        info = await self.client.get_json(media.ref, "looking up a photo")
        url = (info or {}).get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return None
        size = (info or {}).get("file_size")
        if isinstance(size, int) and size > self.settings.media_max_bytes:
            logger.warning("whatsapp: a photo of %s bytes is over the limit: not downloaded", size)
            return None
        return await self.client.get_bytes(url, self.settings.media_max_bytes, "downloading a photo")
