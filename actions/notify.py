"""Proactive messages: `python -m actions.notify delayed`.

Tells each customer with a delayed order the new delivery date, in their stored language, on the
channel they last wrote from (the linked identity whose tracker has the latest shopper message):

- WhatsApp Cloud API (`whatsapp`): inside the 24-hour customer-service window a text message,
  outside it the approved template SAATHI_WHATSAPP_DELAY_TEMPLATE ({{1}} first name, {{2}} order
  number, {{3}} date) in the language SAATHI_WHATSAPP_TEMPLATE_LANGUAGES maps the form to.
- Twilio WhatsApp: inside the window through Rasa (its connector pushes); outside it the approved
  Content Template for the shopper's form in SAATHI_TWILIO_DELAY_CONTENT_SIDS ("en=HX...,hi=HX...";
  hi-Latn/bn-Latn without their own SID use hi/bn; variables 1 first name, 2 order number, 3 date)
  through Twilio's Messages API (actions/clients/twilio_api.py); no SID for the form: skipped.
- Messenger: inside 24 h of the shopper's last message a RESPONSE; outside it, the message tag
  POST_PURCHASE_UPDATE (a change to the delivery of something bought, one of Meta's allowed tag
  uses) unless SAATHI_MESSENGER_POST_PURCHASE_TAG=0, then skipped.
- Website (socketio) and REST: recorded in the tracker for the next visit (socketio also pushes
  to an open widget).

Every notice is appended to the shopper's tracker as a bot message (so a reply simply continues
that conversation and the agent console shows it) and sent at most once per order and delivery
date (`customer_notices`). Nobody who wrote STOP gets one; nothing goes out during the shop's quiet
hours (SAATHI_QUIET_HOURS in SAATHI_TIMEZONE). The command prints what it sent and what it skipped
and why; exit code 1 when a send failed (run again: failed notices are retried).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional
from zoneinfo import ZoneInfo

import requests

from actions.clients.twilio_api import CONTENT_SID, TwilioClient
from actions.config import Settings, load_settings

logger = logging.getLogger(__name__)

WINDOW_S = 24 * 3600
KIND = "delayed"

NOTICE = {
    "en": "Hello {name}, your order {order_id} is delayed. The new delivery date is {date}. Sorry for the wait! "
          "Reply here if you have a question. (Write STOP to get no more updates.)",
    "hi": "नमस्ते {name}, आपका ऑर्डर {order_id} देरी से चल रहा है। नई डिलीवरी की तारीख {date} है। इंतज़ार के लिए माफ़ी! "
          "कोई सवाल हो तो यहीं जवाब दें। (और अपडेट नहीं चाहिए तो \"बंद करो\" या STOP लिखें।)",
    "bn": "হ্যালো {name}, আপনার অর্ডার {order_id} দেরিতে চলছে। নতুন ডেলিভারির তারিখ {date}। অপেক্ষার জন্য দুঃখিত! "
          "কোনো প্রশ্ন থাকলে এখানেই উত্তর দিন। (আর আপডেট না চাইলে \"বন্ধ করুন\" বা STOP লিখুন।)",
    "hi-Latn": "Namaste {name}, aapka order {order_id} late chal raha hai. Nayi delivery date {date} hai. Intezaar ke liye "
               "maafi! Koi sawaal ho to yahin reply karein. (Aur updates nahi chahiye to \"band karo\" ya STOP likhein.)",
    "bn-Latn": "Hello {name}, apnar order {order_id} deri te cholche. Notun delivery date {date}. Opekkhar jonno dukkhito! "
               "Kono proshno thakle ekhanei reply korun. (Ar update na chaile \"bondho koro\" ba STOP likhun.)",
}


@dataclass
class Report:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return ([f"sent     {s}" for s in self.sent] + [f"skipped  {s}" for s in self.skipped]
                + [f"FAILED   {s}" for s in self.failed]
                + [f"{len(self.sent)} sent, {len(self.skipped)} skipped, {len(self.failed)} failed"])


def form_map(spec: str) -> dict[str, str]:
    """'en=en,hi=hi,hi-Latn=hi' → {'en': 'en', 'hi': 'hi', 'hi-Latn': 'hi'} (per-form settings)."""
    pairs = (p.split("=", 1) for p in spec.split(",") if "=" in p)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}


def in_quiet_hours(spec: str, now_local: dt.time) -> bool:
    """'21:00-09:00' (wraps past midnight) or '13:00-14:00'; an empty spec means never quiet."""
    if not spec.strip():
        return False
    start_s, _, end_s = spec.partition("-")
    start, end = dt.time.fromisoformat(start_s.strip()), dt.time.fromisoformat(end_s.strip())
    if start <= end:
        return start <= now_local < end
    return now_local >= start or now_local < end


class Notifier:
    def __init__(self, settings: Settings, session: Optional[requests.Session] = None) -> None:
        from actions.customers import customer_store

        self.s = settings
        self.http = session or requests.Session()
        self.store = customer_store(settings)
        self.twilio = TwilioClient.from_settings(settings, self.http)

    # -- Rasa ----------------------------------------------------------------------------------
    def _tracker_url(self, sender: str, suffix: str = "tracker") -> str:
        from actions.clients.rasa_api import conversation_url

        return conversation_url(self.s.rasa_url, sender, suffix)

    def last_user_message(self, sender: str) -> Optional[tuple[float, str]]:
        """(time, input channel) of the shopper's latest message in Rasa's tracker."""
        resp = self.http.get(self._tracker_url(sender), params={"token": self.s.rasa_token},
                             timeout=self.s.http_timeout)
        resp.raise_for_status()
        for ev in reversed(resp.json().get("events") or []):
            if ev.get("event") == "user" and isinstance(ev.get("timestamp"), (int, float)):
                return float(ev["timestamp"]), str(ev.get("input_channel") or "")
        return None

    def record(self, sender: str, text: str, meta: dict[str, Any], push_channel: Optional[str] = None) -> None:
        """The notice as a bot message in the tracker; pushed by Rasa only through `push_channel`."""
        params = {"token": self.s.rasa_token, "execute_side_effects": "true" if push_channel else "false"}
        if push_channel:
            params["output_channel"] = push_channel
        resp = self.http.post(self._tracker_url(sender, "tracker/events"), params=params, timeout=self.s.http_timeout,
                              json=[{"event": "bot", "text": text, "metadata": {"saathi_notice": meta}}])
        resp.raise_for_status()

    # -- Meta ----------------------------------------------------------------------------------
    def graph(self, path: str, body: dict[str, Any], params: Optional[dict[str, str]] = None,
              bearer: str = "") -> None:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        resp = self.http.post(f"{self.s.graph_api_url}/{path}", json=body, params=params or {}, headers=headers,
                              timeout=self.s.http_timeout)
        if resp.status_code >= 400:
            raise RuntimeError(f"Graph API answered {resp.status_code}")

    def template_language(self, form: str) -> str:
        pairs = form_map(self.s.whatsapp_template_languages)
        return pairs.get(form, pairs.get("en", "en"))

    def content_sid(self, form: str) -> str:
        """The Twilio Content SID for a form: its own, else its language's (hi-Latn → hi); '' if none.

        No fallback to English: a shopper who wrote in Bengali should not get an English template
        unless the shop maps the form to it (bn=HX<English template>)."""
        pairs = form_map(self.s.twilio_delay_content_sids)
        return pairs.get(form) or pairs.get(form.split("-")[0], "")

    @staticmethod
    def template_params(customer: Any, oid: str, order: Any, form: str) -> list[str]:
        """The delay templates' variables: first name, order number, date (ASCII digits)."""
        from actions.orders import i18n

        return [customer.first_name or "-", oid, i18n.date_text(order.expected_delivery, form)]

    # -- one run -------------------------------------------------------------------------------
    def delayed_orders(self) -> list[Any]:
        from sqlalchemy import select

        from actions.orders.models import OrderRow

        with self.store.engine.connect() as conn:
            return list(conn.execute(select(OrderRow.__table__).where(OrderRow.status == "delayed")
                                     .order_by(OrderRow.order_id)))

    def run(self, now: Optional[dt.datetime] = None) -> Report:
        from actions.orders import i18n

        report = Report()
        if self.s.order_provider != "sql":
            report.skipped.append(f"all: the {self.s.order_provider} order provider has no list of delayed orders")
            return report
        tz = ZoneInfo(self.s.timezone)
        local = (now or dt.datetime.now(tz)).astimezone(tz)
        quiet = in_quiet_hours(self.s.quiet_hours, local.time())
        for order in self.delayed_orders():
            oid = order.order_id
            kind = f"{KIND}:{order.expected_delivery.isoformat() if order.expected_delivery else 'unknown'}"
            customers = self.store.find(phone=order.phone, email=order.email)
            if not customers:
                report.skipped.append(f"{oid}: no linked conversation (the shopper never verified an order in chat)")
                continue
            customer = customers[0]
            if customer.opted_out:
                report.skipped.append(f"{oid}: the shopper wrote STOP")
                continue
            if self.store.notice_sent(oid, kind):
                report.skipped.append(f"{oid}: already told about this date")
                continue
            target = self.latest_identity(customer.id)
            if target is None:
                report.skipped.append(f"{oid}: no linked conversation")
                continue
            channel, sender, last_at = target
            if self.store.is_opted_out(channel, sender):
                report.skipped.append(f"{oid}: the shopper wrote STOP")
                continue
            if quiet:
                report.skipped.append(f"{oid}: quiet hours ({self.s.quiet_hours} {self.s.timezone}); run again later")
                continue
            form = i18n.form(customer.language)
            text = NOTICE[form].format(name=customer.first_name or "", order_id=oid,
                                       date=i18n.date_text(order.expected_delivery, form)).replace("  ", " ")
            self.notify_one(report, customer, oid, kind, channel, sender, last_at, form, text, order)
        return report

    def latest_identity(self, customer_id: int) -> Optional[tuple[str, str, Optional[float]]]:
        """The linked identity the shopper wrote from last (Rasa's trackers decide)."""
        best: Optional[tuple[str, str, Optional[float]]] = None
        best_at = -1.0
        for ident in self.store.identities(customer_id):
            try:
                last = self.last_user_message(ident.sender_id)
            except (requests.RequestException, ValueError):
                last = None
            at = last[0] if last else ident.last_seen_at.replace(tzinfo=dt.timezone.utc).timestamp()
            if at > best_at:
                best, best_at = (ident.channel, ident.sender_id, last[0] if last else None), at
        return best

    def notify_one(self, report: Report, customer: Any, oid: str, kind: str, channel: str, sender: str,
                   last_at: Optional[float], form: str, text: str, order: Any) -> None:
        in_window = last_at is not None and time.time() - last_at < WINDOW_S
        meta = {"kind": KIND, "order_id": oid, "channel": channel}
        push: Optional[str] = None
        if channel == "whatsapp":
            if not (self.s.whatsapp_token and self.s.whatsapp_phone_number_id):
                report.skipped.append(f"{oid}: WhatsApp is not configured (SAATHI_WHATSAPP_TOKEN / PHONE_NUMBER_ID)")
                return
            how = "whatsapp_text" if in_window else "whatsapp_template"
        elif channel in ("twilio_whatsapp", "twilio") and in_window:
            how, push = "rasa_push", channel
        elif channel in ("twilio_whatsapp", "twilio"):  # outside the window: an approved Content Template only
            if not self.twilio.configured:
                report.skipped.append(f"{oid}: Twilio is not configured "
                                      "(SAATHI_TWILIO_ACCOUNT_SID / AUTH_TOKEN / NUMBER)")
                return
            content_sid = self.content_sid(form)
            if not content_sid:
                report.skipped.append(f"{oid}: Twilio WhatsApp outside the 24-hour window needs a content template; "
                                      f"none for {form} in SAATHI_TWILIO_DELAY_CONTENT_SIDS")
                return
            if not CONTENT_SID.fullmatch(content_sid):
                report.skipped.append(f"{oid}: SAATHI_TWILIO_DELAY_CONTENT_SIDS: the value for {form} is not a "
                                      f"Content SID (HX and 32 hex digits)")
                return
            how = "twilio_template"
            meta["content_sid"] = content_sid
        elif channel in ("messenger", "facebook"):
            if not self.s.messenger_page_token:
                report.skipped.append(f"{oid}: Messenger is not configured (SAATHI_MESSENGER_PAGE_TOKEN)")
                return
            if not in_window and not self.s.messenger_post_purchase_tag:
                report.skipped.append(f"{oid}: Messenger outside 24 h of the shopper's last message (tags disabled)")
                return
            how = "messenger_response" if in_window else "messenger_post_purchase_tag"
        else:  # website and REST: the notice waits in the tracker (socketio pushes to an open widget)
            how, push = "tracker", ("socketio" if channel == "socketio" else None)
        if not self.store.claim_notice(oid, kind, customer.id, channel, sender, how):
            report.skipped.append(f"{oid}: already told about this date")
            return
        try:
            if how == "whatsapp_text":
                self.graph(f"{self.s.whatsapp_phone_number_id}/messages", bearer=self.s.whatsapp_token, body={
                    "messaging_product": "whatsapp", "recipient_type": "individual", "to": sender.lstrip("+"),
                    "type": "text", "text": {"body": text}})
            elif how == "whatsapp_template":
                params = self.template_params(customer, oid, order, form)
                self.graph(f"{self.s.whatsapp_phone_number_id}/messages", bearer=self.s.whatsapp_token, body={
                    "messaging_product": "whatsapp", "recipient_type": "individual", "to": sender.lstrip("+"),
                    "type": "template", "template": {
                        "name": self.s.whatsapp_delay_template, "language": {"code": self.template_language(form)},
                        "components": [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]}})
            elif how == "twilio_template":
                variables = {str(i): p for i, p in enumerate(self.template_params(customer, oid, order, form), 1)}
                outcome = self.twilio.send_content(sender, meta["content_sid"], variables)
                if not outcome.ok:
                    raise RuntimeError(f"Twilio {outcome.status}: {outcome.detail}")
            elif how.startswith("messenger"):
                body: dict[str, Any] = {"recipient": {"id": sender}, "message": {"text": text}}
                body.update({"messaging_type": "RESPONSE"} if in_window else
                            {"messaging_type": "MESSAGE_TAG", "tag": "POST_PURCHASE_UPDATE"})
                self.graph("me/messages", body, params={"access_token": self.s.messenger_page_token})
        except (requests.RequestException, RuntimeError) as exc:
            self.store.release_notice(oid, kind)
            report.failed.append(f"{oid}: {channel} send failed ({exc.__class__.__name__}: {exc}); will retry")
            return
        try:
            self.record(sender, text, dict(meta, how=how), push)
        except requests.RequestException as exc:
            if how in ("tracker", "rasa_push"):  # nothing reached the shopper: try again next run
                self.store.release_notice(oid, kind)
                report.failed.append(f"{oid}: Rasa could not record it ({exc.__class__.__name__}); will retry")
                return
            report.failed.append(f"{oid}: sent on {channel} but not recorded in the tracker ({exc.__class__.__name__})")
            return
        report.sent.append(f"{oid}: {channel} ({how}, {form})")
        logger.info("delay notice for %s sent on %s (%s)", oid, channel, how)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.notify", description="Proactive messages to shoppers")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("delayed", help="tell shoppers with a delayed order the new delivery date")
    parser.parse_args(argv)
    from actions.privacy import install_log_masking

    logging.basicConfig(level=logging.WARNING)
    install_log_masking()
    report = Notifier(load_settings()).run()
    for line in report.lines():
        print(line)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
