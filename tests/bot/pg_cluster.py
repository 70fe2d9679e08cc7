"""A private, throwaway PostgreSQL cluster for one test module (scripts/postgres.sh).

Not the shared project cluster: tests that stop the server must not stop anyone else's.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from tests.stack import ROOT, free_port


class PrivatePostgres:
    """`scripts/postgres.sh` with its own directory and port; start, stop, start again, purge."""

    def __init__(self) -> None:
        # Under /tmp: as root the server runs as `postgres`, which cannot enter pytest's tmp dirs.
        self.dir = Path(f"/tmp/saathi-pg-test-{secrets.token_hex(4)}")
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k != "SAATHI_TEST_PG_URL"}
        self.env.update(SAATHI_TEST_PG_DIR=str(self.dir), SAATHI_TEST_PG_PORT=str(self.port))
        self.url: Optional[str] = None  # postgresql+psycopg2://postgres@127.0.0.1:PORT/saathi_test

    def _run(self, command: str) -> str:
        done = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), command], env=self.env,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/postgres.sh {command} failed:\n{done.stderr[-3000:]}")
        return done.stdout.strip()

    def start(self) -> str:
        line = self._run("start")
        assert line.startswith("SAATHI_TEST_PG_URL="), line
        self.url = line.split("=", 1)[1]
        return self.url

    def stop(self) -> None:
        self._run("stop")

    def purge(self) -> None:
        try:
            self._run("purge")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
