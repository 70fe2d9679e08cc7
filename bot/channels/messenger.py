"""Facebook Messenger connector: `/webhooks/messenger/webhook` (replaces Rasa's `facebook`).

Rasa's `facebook` connector checks only the legacy SHA-1 signature (and answers 200 when it is
wrong), handles only the first event of a batch and has Meta's URL built in. This one checks
`X-Hub-Signature-256` (bot/channels/meta.py), handles every messaging event of every entry,
each message id (`mid`) once, takes quick replies and postbacks (a `/intent` payload goes to
Rasa as it is, otherwise the title), saves photos into `SAATHI_MEDIA_DIR` and shared locations
as `metadata["attachments"]`, and ignores echoes, deliveries, reads and reactions. The sender id
is the page-scoped id (PSID).

Outbound: `POST {graph}/me/messages?access_token=...` with `messaging_type: RESPONSE`; buttons
and quick replies as Messenger quick_replies (up to 13, titles cut to 20 characters), images as
attachments, a response's `custom` payload as the Messenger message object. Settings:
`SAATHI_GRAPH_API_URL`, `SAATHI_META_APP_SECRET`, `SAATHI_MESSENGER_VERIFY_TOKEN`,
`SAATHI_MESSENGER_PAGE_TOKEN`; credentials.yml keys `verify_token`, `app_secret`, `page_token`,
`graph_api_url` override them.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel

from bot.channels.meta import (POINTER, GraphClient, Inbound, MediaRef, MetaInput, MetaOutput, as_dict, as_list,
                               button_options, location_attachment, mask_id, reply_text, shorten, split_text)
from bot.config import BotSettings, load_settings

logger = logging.getLogger(__name__)

PSID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_TEXT = 2000
MAX_QUICK_REPLIES, MAX_QUICK_REPLY_TITLE = 13, 20
MESSAGE_KEYS = {"text", "attachment", "quick_replies", "metadata"}
IGNORED_EVENTS = ("delivery", "read", "reaction", "optin", "referral", "account_linking", "policy_enforcement")


class MessengerOutput(MetaOutput):
    @classmethod
    def name(cls) -> Text:
        return "messenger"

    async def _post(self, recipient_id: Text, message: Dict[str, Any], what: str) -> bool:
        body = {"recipient": {"id": recipient_id}, "messaging_type": "RESPONSE", "message": message}
        return await self.client.post("me/messages", body, f"sending a {what} to {mask_id(recipient_id)}")

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for piece in split_text(text, MAX_TEXT):
            await self._post(recipient_id, {"text": piece}, "text")

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        options = button_options(buttons)[:MAX_QUICK_REPLIES]
        pieces = split_text(text, MAX_TEXT) or [POINTER]
        for piece in pieces[:-1]:
            await self._post(recipient_id, {"text": piece}, "text")
        if len(button_options(buttons)) > MAX_QUICK_REPLIES:
            logger.warning("messenger: only the first %d of %d buttons were sent", MAX_QUICK_REPLIES,
                           len(button_options(buttons)))
        quick = [{"content_type": "text", "title": shorten(title, MAX_QUICK_REPLY_TITLE), "payload": oid}
                 for oid, title in options]
        message: Dict[str, Any] = {"text": pieces[-1]}
        if quick:
            message["quick_replies"] = quick
        await self._post(recipient_id, message, "message with quick replies")

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._post(recipient_id, {"attachment": {"type": "image", "payload": {"url": image, "is_reusable": True}}},
                         "image")

    async def send_raw(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Only a Messenger message object (text or attachment) goes out; other channels' payloads do not."""
        if not isinstance(message, dict) or not ({"text", "attachment"} & message.keys()) or (
                message.keys() - MESSAGE_KEYS):
            logger.info("messenger: a custom payload that is not a Messenger message was not sent")
            return
        await self._post(recipient_id, message, "custom message")


class MessengerInput(MetaInput):
    """`/webhooks/messenger/webhook`: the Facebook page's `messages` and `messaging_postbacks` webhook."""

    @classmethod
    def name(cls) -> Text:
        return "messenger"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(load_settings(), credentials or {})

    def __init__(self, settings: BotSettings, credentials: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        given = {k: str(v) for k, v in (credentials or {}).items() if v not in (None, "")}
        client = GraphClient(given.get("graph_api_url", settings.graph_api_url), settings.http_timeout,
                             params={"access_token": given.get("page_token", settings.messenger_page_token)},
                             channel="messenger")
        super().__init__(settings, given.get("verify_token", settings.messenger_verify_token),
                         given.get("app_secret", settings.meta_app_secret), client, **kwargs)
        self.output = MessengerOutput(client)

    def get_output_channel(self) -> OutputChannel:
        return self.output

    def parse(self, body: Dict[str, Any]) -> List[Inbound]:
        if body.get("object", "page") != "page":
            return []
        out = []
        for entry in as_list(body.get("entry")):
            for event in as_list(as_dict(entry).get("messaging")):
                inbound = self._event(as_dict(event))
                if inbound is not None:
                    out.append(inbound)
        return out

    def _event(self, event: Dict[str, Any]) -> Optional[Inbound]:
        sender = as_dict(event.get("sender")).get("id")
        if not isinstance(sender, str) or not PSID.fullmatch(sender):
            return None
        metadata: Dict[str, Any] = {"channel_user": sender}
        if "message" in event:
            message = as_dict(event["message"])
            if message.get("is_echo"):
                return None
            mid, text, media = message.get("mid"), self._message_text(message), []
            for attachment in as_list(message.get("attachments")):
                attachment = as_dict(attachment)
                payload = as_dict(attachment.get("payload"))
                if attachment.get("type") == "image" and isinstance(payload.get("url"), str):
                    media.append(MediaRef(payload["url"]))
                elif attachment.get("type") == "location":
                    coordinates = as_dict(payload.get("coordinates"))
                    place = location_attachment(coordinates.get("lat"), coordinates.get("long"),
                                                attachment.get("title"))
                    if place:
                        metadata.setdefault("attachments", []).append(place)
                elif not text and attachment.get("type") in ("audio", "video", "file"):
                    text = f"[{attachment['type']}]"
            if not text:
                text = "[photo]" if media else "[location]" if metadata.get("attachments") else ""
        elif "postback" in event:
            postback = as_dict(event["postback"])
            mid = postback.get("mid") or f"postback-{sender}-{event.get('timestamp')}"
            text, media = reply_text(postback.get("payload"), postback.get("title")), []
        else:
            if not any(kind in event for kind in IGNORED_EVENTS):
                logger.info("messenger: an event of an unknown kind was ignored")
            return None
        if not isinstance(mid, str) or not mid or len(mid) > 255 or not text:
            return None
        return Inbound(mid, sender, self.message_text(text, metadata), metadata, media)

    @staticmethod
    def _message_text(message: Dict[str, Any]) -> str:
        quick = as_dict(message.get("quick_reply"))
        if quick:
            return reply_text(quick.get("payload"), message.get("text"))
        text = message.get("text")
        return text if isinstance(text, str) else ""

    async def fetch_media(self, media: MediaRef) -> Optional[bytes]:
        """Messenger sends a CDN URL: fetched without the page token."""
        if not media.ref.startswith(("https://", "http://")):
            return None
        return await self.client.get_bytes(media.ref, self.settings.media_max_bytes, "downloading a photo", auth=False)
