"""Horizontal bar charts for the metrics page, laid out here and drawn as inline SVG by Jinja
(templates/_charts.html): no script, no CDN, nothing but the numbers of `Bridge.metrics()`."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

BAR_WIDTH = 320  # pixels of the longest bar
LABEL_CHARS = 34


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def chart(title: str, rows: Iterable[tuple[str, Sequence[float], str]], *,
          legend: Sequence[str] = (), note: str = "", scale: Optional[float] = None) -> dict[str, Any]:
    """A chart of rows (label, segment values, text shown after the bar); each row's segments are
    stacked, segment i drawn in colour class `s{i}`. Bars are scaled to the largest row total,
    or to `scale` (e.g. 1.0 for shares)."""
    rows = list(rows)
    top = scale or max([sum(v for v in values if v) for _, values, _ in rows] or [0]) or 1
    out = []
    for label, values, text in rows:
        x, segments = 0, []
        for i, value in enumerate(values):
            width = round(BAR_WIDTH * max(value or 0, 0) / top)
            if width:
                segments.append({"x": x, "width": width, "cls": f"s{i}"})
            x += width
        out.append({"label": _short(label), "full": label, "segments": segments, "end": x, "text": text})
    return {"title": title, "rows": out, "legend": list(legend), "note": note, "width": BAR_WIDTH}


def pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def metrics_charts(m: dict[str, Any], kb: dict[str, Any]) -> list[dict[str, Any]]:
    """Every chart of the metrics page, from `Bridge.metrics()` and the help-centre figures."""
    charts = []
    seen = m["conversations"]
    if m["containment"] is not None:
        contained = m["containment"]
        charts.append(chart("Containment: conversations resolved without a person", [
            (f"conversations: {seen}", [contained, 1 - contained],
             f"{pct(contained)} bot / {pct(1 - contained)} person")],
            legend=["resolved by the bot", "needed a person"], scale=1.0))
    else:
        charts.append(chart("Containment: conversations resolved without a person", [],
                            note="No conversations seen through Rasa's event broker yet."))
    by_reason = sorted(m["by_reason"].items(), key=lambda kv: -kv[1])
    rates = m.get("handoff_rate_by_reason") or {}
    charts.append(chart("Handoff rate by reason (share of all conversations)",
                        [(reason.replace("_", " "), [rates.get(reason) or 0],
                          f"{pct(rates.get(reason))} · {count}") for reason, count in by_reason]
                        if seen else
                        [(reason.replace("_", " "), [count], str(count)) for reason, count in by_reason],
                        note="" if seen else "Counts only: no conversations seen yet."))
    lang_rates = m.get("handoff_rate_by_language") or {}
    lang_seen = m.get("conversations_by_language") or {}
    charts.append(chart("Handoff rate by language (handoffs per conversation in that language)",
                        [(lang, [lang_rates[lang]], f"{pct(lang_rates[lang])} · {count} of {lang_seen[lang]}")
                         for lang, count in sorted(m["by_language"].items(), key=lambda kv: -kv[1])
                         if lang in lang_rates],
                        note="" if lang_rates else "No conversations with a known language seen yet."))
    total = m["handoffs"] or 1
    charts.append(chart("Handoffs by language (share of handoffs)",
                        [(lang, [count / total], f"{pct(count / total)} · {count}")
                         for lang, count in sorted(m["by_language"].items(), key=lambda kv: -kv[1])]))
    times = [("waiting for an agent", "waiting_seconds"), ("first agent response", "first_response_seconds"),
             ("handling", "handling_seconds"), ("offline ticket answered", "ticket_response_seconds")]
    charts.append(chart("Times (median and 95th percentile)",
                        [(f"{name} p{p}", [m[key][f"p{p}"] or 0],
                          f"{duration(m[key][f'p{p}'])} (n={m[key]['count']})")
                         for name, key in times for p in (50, 95) if m[key]["count"]]))
    dist = m["ratings"].get("distribution") or {}
    charts.append(chart(f"Agent ratings (average {m['ratings']['average'] if m['ratings']['average'] is not None else '–'}"
                        f" from {m['ratings']['count']})",
                        [(f"{'★' * int(star)} {star}", [dist.get(star, 0)], str(dist.get(star, 0)))
                         for star in ("5", "4", "3", "2", "1")] if m["ratings"]["count"] else []))
    charts.append(chart("Help-centre articles: helpful / not helpful",
                        [(r["article_id"], [r["helpful"], r["not_helpful"]], f"{r['helpful']} / {r['not_helpful']}")
                         for r in kb["article_ratings"]], legend=["helpful", "not helpful"]))
    charts.append(chart("Most frequent questions the bot could not answer (grouped)",
                        [(q["question"], [q["count"]], str(q["count"])) for q in kb["frequent_unanswered"]]))
    charts.append(chart("Handoffs by status",
                        [(status.replace("_", " "), [count], str(count))
                         for status, count in sorted(m["by_status"].items(), key=lambda kv: -kv[1])]))
    return charts
