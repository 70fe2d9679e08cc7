"""Fixtures that start the real stack (bridge, action server, Rasa server) with the trained model."""
from __future__ import annotations

import secrets
from typing import Iterator

import pytest
import requests

from tests.stack import model_path as model_path_or_none
from tests.stack import running_stack


@pytest.fixture(scope="session")
def model_path() -> str:
    model = model_path_or_none()
    if not model:
        pytest.fail("SAATHI_TEST_MODEL must name a trained model (make test trains one)")
    return model


@pytest.fixture(scope="session")
def stack(model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running bridge, action server and Rasa server (tests/stack.py)."""
    with running_stack(tmp_path_factory.mktemp("stack"), model_path) as running:
        yield running


class Shopper:
    """Talks to the REST webhook as one shopper and reads their tracker."""

    def __init__(self, stack: dict, sender: str):
        self.stack = stack
        self.sender = sender

    def say(self, text: str) -> list[dict]:
        r = requests.post(
            f"{self.stack['rasa']}/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        return r.json()

    def tracker(self) -> dict:
        r = requests.get(
            f"{self.stack['rasa']}/conversations/{self.sender}/tracker",
            params={"token": self.stack["token"]},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return r.json()

    def slot(self, name: str):
        return self.tracker()["slots"].get(name)


@pytest.fixture
def shopper(stack: dict, request: pytest.FixtureRequest) -> Shopper:
    return Shopper(stack, f"test-{request.node.name}-{secrets.token_hex(4)}")
