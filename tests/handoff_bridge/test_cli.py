"""`python -m handoff_bridge create-agent` and `serve`, run as real subprocesses."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select
from werkzeug.security import check_password_hash

from handoff_bridge.db import agents

ROOT = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handoff_bridge", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, PYTHONPATH=str(ROOT), SAATHI_ENV_FILE=str(tmp_path / "none.env"),
                SAATHI_RUN_DIR=str(tmp_path), SAATHI_BRIDGE_DB=f"sqlite:///{tmp_path / 'b.db'}")


def test_create_agent(env, tmp_path):
    env["AGENT_PW"] = "s3cret-password-1"
    res = run_cli(["create-agent", "--name", "Asha Rao", "--email", "Asha@Shop.in", "--password-env", "AGENT_PW",
                   "--languages", "en,hi", "--role", "admin", "--capacity", "4"], env)
    assert res.returncode == 0, res.stderr
    assert "s3cret" not in res.stdout + res.stderr and "asha@shop.in" not in res.stdout.lower()
    pw_file = tmp_path / "pw.txt"
    pw_file.write_text("another-password-2\n")
    res = run_cli(["create-agent", "--name", "Bina", "--email", "bina@shop.in", "--password-file", str(pw_file),
                   "--languages", "bn,bn-Latn"], env)
    assert res.returncode == 0, res.stderr
    engine = create_engine(env["SAATHI_BRIDGE_DB"])
    with engine.connect() as conn:
        rows = {r.email: r for r in conn.execute(select(agents))}
    engine.dispose()
    asha = rows["asha@shop.in"]
    assert asha.role == "admin" and asha.languages == "en,hi" and asha.capacity == 4
    assert asha.password_hash != "s3cret-password-1" and check_password_hash(asha.password_hash, "s3cret-password-1")
    assert check_password_hash(rows["bina@shop.in"].password_hash, "another-password-2")
    assert rows["bina@shop.in"].role == "agent"


@pytest.mark.parametrize("args,code", [
    (["--password-env", "AGENT_PW", "--languages", "fr"], 2),
    (["--password-env", "SHORT_PW"], 2),
    (["--password-env", "MISSING_PW"], 1),
    (["--password-env", "AGENT_PW", "--role", "boss"], 2),
    (["--password-env", "AGENT_PW", "--capacity", "0"], 2),
])
def test_create_agent_rejects_bad_input(env, args, code):
    env.update(AGENT_PW="long-enough-password", SHORT_PW="short")
    res = run_cli(["create-agent", "--name", "X", "--email", "x@shop.in", *args], env)
    assert res.returncode == code, (res.stdout, res.stderr)


def test_create_agent_duplicate_email(env):
    env["AGENT_PW"] = "long-enough-password"
    base = ["create-agent", "--name", "X", "--email", "x@shop.in", "--password-env", "AGENT_PW"]
    assert run_cli(base, env).returncode == 0
    res = run_cli(base, env)
    assert res.returncode == 1 and "exists" in res.stderr


def test_serve_under_waitress(env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env.update(SAATHI_BRIDGE_PORT=str(port), SAATHI_BRIDGE_TOKEN="tok", SAATHI_BRIDGE_WORKERS="2",
               SAATHI_RASA_URL="http://127.0.0.1:9")
    proc = subprocess.Popen([sys.executable, "-m", "handoff_bridge", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.RequestException:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() is not None else "timeout"
                time.sleep(0.1)
        assert resp.json() == {"status": "ok"}
        assert requests.get(f"http://127.0.0.1:{port}/api/metrics", timeout=2).status_code == 401
        ok = requests.get(f"http://127.0.0.1:{port}/api/metrics", headers={"Authorization": "Bearer tok"}, timeout=2)
        assert ok.status_code == 200 and ok.json()["handoffs"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
