"""Fixtures that start a real action server and a real Rasa server with the trained model."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited early:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {limit}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def model_path() -> str:
    model = os.environ.get("SAATHI_TEST_MODEL")
    if not model or not Path(model).is_file():
        pytest.fail("SAATHI_TEST_MODEL must name a trained model (make test trains one)")
    return model


@pytest.fixture(scope="session")
def stack(model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running action server and Rasa server; yields their URLs and the API token."""
    work = tmp_path_factory.mktemp("stack")
    token = secrets.token_hex(16)
    action_port, rasa_port = free_port(), free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SAATHI_ENV_FILE=str(work / "none.env"),
        SAATHI_RUN_DIR=str(work),
        SAATHI_ACTION_URL=f"http://127.0.0.1:{action_port}/webhook",
        SAATHI_TRACKER_DB=str(work / "tracker.db"),
        # Nothing listens here: the bridge is unreachable on purpose.
        SAATHI_BRIDGE_URL=f"http://127.0.0.1:{free_port()}",
        SAATHI_SUPPORT_CONTACT="help@test-shop.in",
        SAATHI_MAX_MESSAGE_CHARS="4000",
        SAATHI_KB_INDEX=str(work / "kb_index"),
        SAATHI_KB_DB=f"sqlite:///{work / 'kb.db'}",
        HF_HUB_OFFLINE="1",
    )
    app_python = Path(os.environ.get("SAATHI_VENV_APP", ROOT / ".venv")) / "bin" / "python"
    # The demo help centre, built with the real importer, model and FAISS index.
    subprocess.run(
        [str(app_python), "-m", "kb_index", "build", str(ROOT / "kb_index" / "demo"),
         "--index", env["SAATHI_KB_INDEX"]],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )
    rasa_bin = Path(os.environ.get("SAATHI_VENV_RASA", ROOT / ".venv-rasa")) / "bin" / "rasa"
    alog, rlog = work / "actions.log", work / "rasa.log"
    actions = subprocess.Popen(
        [str(app_python), "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
        cwd=ROOT, env=env, stdout=alog.open("w"), stderr=subprocess.STDOUT,
    )
    rasa = subprocess.Popen(
        [str(rasa_bin), "run", "--model", model_path, "--port", str(rasa_port),
         "--enable-api", f"--auth-token={token}", "--credentials", "credentials.yml",
         "--endpoints", "endpoints.yml"],
        cwd=ROOT, env=env, stdout=rlog.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{action_port}/health", actions, alog, 120)
        wait_http(f"http://127.0.0.1:{rasa_port}/status?token={token}", rasa, rlog, 300)
        yield {
            "rasa": f"http://127.0.0.1:{rasa_port}",
            "actions": f"http://127.0.0.1:{action_port}",
            "token": token,
            "rasa_proc": rasa,
            "rasa_log": rlog,
            "kb_db": env["SAATHI_KB_DB"],
        }
    finally:
        stop(rasa)
        stop(actions)


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
