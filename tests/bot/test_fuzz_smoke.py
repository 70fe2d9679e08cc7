"""A short fuzz run (bench/fuzz.py) against the session's stack: no 5xx, nothing let in, nothing dead.

`make fuzz` runs the full 10,000-input version on a stack of its own. Here valid-token writes
into the bridge are left out (`writes=False`) so the shared queue stays as the other tests expect.
"""
from __future__ import annotations

from bench.fuzz import run_fuzz


def test_a_few_hundred_generated_inputs_at_every_public_endpoint(stack):
    report = run_fuzz(stack, count=400, seconds=420, seed=20261130, workers=3, log=lambda _: None, writes=False)
    assert report.sent == 400, "the run hit its time limit"
    assert report.five_xx == [], "\n".join(report.five_xx)
    assert report.let_through == [], "\n".join(report.let_through)
    assert report.no_answer == [], "\n".join(report.no_answer)
    assert report.dead == []
    # Every kind of endpoint was reached, the channel webhooks included.
    assert {"rest", "rasa_api", "bridge_api", "console", "widget", "twilio_whatsapp"} <= set(report.by_target)
