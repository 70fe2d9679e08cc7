"""Client of Twilio's Messages API for business-initiated WhatsApp messages (Content Templates).

Outside WhatsApp's 24-hour customer-service window Twilio accepts only an approved Content
Template: `POST {api}/2010-04-01/Accounts/{AccountSid}/Messages.json` with `From`/`To`
(`whatsapp:+...`), `ContentSid` (HX...) and `ContentVariables` (a JSON string), no `Body`, HTTP
basic auth with the account SID and auth token. One call per send, always with a timeout, no
retries here: the caller decides what to do with the outcome. Nothing personal is logged.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Optional

import requests

from actions.privacy import mask_pii

logger = logging.getLogger(__name__)

CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class SendOutcome:
    status: str  # "sent" (Twilio accepted it), "rejected" (4xx) or "unreachable" (5xx, timeout, no answer)
    detail: str = ""  # HTTP status and Twilio's error code/message, masked; empty when sent
    message_sid: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "sent"


def whatsapp_address(number: str) -> str:
    """'+919876543210' or 'whatsapp:+919876543210' → 'whatsapp:+919876543210'."""
    number = number.strip()
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


class TwilioClient:
    def __init__(self, api_url: str, account_sid: str, auth_token: str, from_number: str, timeout: float = 5.0,
                 session: Optional[requests.Session] = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.timeout = timeout
        self.session = session or requests.Session()

    @classmethod
    def from_settings(cls, settings: Any, session: Optional[requests.Session] = None) -> "TwilioClient":
        return cls(settings.twilio_api_url, settings.twilio_account_sid, settings.twilio_auth_token,
                   settings.twilio_number, settings.http_timeout, session)

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and self.from_number)

    @property
    def messages_url(self) -> str:
        return f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def send_content(self, to: str, content_sid: str, variables: dict[str, str]) -> SendOutcome:
        """Send the Content Template `content_sid` with `variables` ({"1": ..., "2": ...}) to `to`."""
        data = {"From": whatsapp_address(self.from_number), "To": whatsapp_address(to), "ContentSid": content_sid,
                "ContentVariables": json.dumps(variables, ensure_ascii=False)}
        try:
            resp = self.session.post(self.messages_url, data=data, auth=(self.account_sid, self.auth_token),
                                     timeout=self.timeout)
        except requests.RequestException as exc:
            logger.warning("Twilio unreachable sending a content template: %s", type(exc).__name__)
            return SendOutcome("unreachable", type(exc).__name__)
        body = _json(resp)
        if resp.status_code < 300:
            return SendOutcome("sent", "", str(body.get("sid") or ""))
        detail = f"HTTP {resp.status_code}"
        if body.get("code"):
            detail += f", Twilio error {body['code']}"
        if isinstance(body.get("message"), str):  # may quote the number: masked, and never the token
            message = body["message"].replace(self.auth_token, "***") if self.auth_token else body["message"]
            detail += ": " + mask_pii(message)[:200]
        status = "rejected" if resp.status_code < 500 else "unreachable"
        logger.warning("Twilio %s a content template: %s", "refused" if status == "rejected" else "failed on", detail)
        return SendOutcome(status, detail)


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
