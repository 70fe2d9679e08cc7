"""scripts/lib.sh's `supervise`, which keeps every process of the scaled profile running: a process
killed with -9 is started again (a new pid, alive) after a short back-off, and a TERM to the
supervisor stops the process and the supervisor, leaving nothing behind."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.stack import ROOT

# A stand-in process with a marker in its command line, so the test can find every copy of it.
SCRIPT = """
source "$1/scripts/lib.sh"
supervise sleeper "$2/sleeper.pid" "$2/sleeper.log" python3 -c 'import sys, time; time.sleep(600)' "$3" &
echo "$!" > "$2/supervisor.pid"
wait
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def copies(marker: str) -> list[int]:
    """Pids of the living stand-in processes (python, with the marker as an argument)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                if "python" in argv[0] and marker in argv and alive(int(entry.name)):  # not the shells
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_for(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def test_killed_process_is_started_again_and_term_stops_everything(tmp_path: Path) -> None:
    marker = f"saathi-supervise-test-{os.getpid()}-{time.monotonic_ns()}"
    shell = subprocess.Popen(["bash", "-c", SCRIPT, "bash", str(ROOT), str(tmp_path), marker],
                             start_new_session=True)
    pidfile = tmp_path / "sleeper.pid"
    try:
        first = wait_for(lambda: read_pid(pidfile) if copies(marker) else 0, 10, "the first process")
        assert copies(marker) == [first]
        supervisor = read_pid(tmp_path / "supervisor.pid")

        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: read_pid(pidfile) if read_pid(pidfile) not in (0, first) else 0, 5,
                          "a new process after kill -9")
        assert wait_for(lambda: copies(marker) == [second], 5, "exactly the new copy running")
        assert not alive(first)
        assert "exit 137" in (tmp_path / "sleeper.pid.exits").read_text()

        os.kill(second, signal.SIGKILL)  # dying again soon after the start: a longer back-off
        third = wait_for(lambda: read_pid(pidfile) if read_pid(pidfile) not in (0, first, second) else 0, 8,
                         "a third process")
        assert (tmp_path / "sleeper.pid.exits").read_text().count("exit 137") == 2

        os.kill(supervisor, signal.SIGTERM)
        wait_for(lambda: not alive(supervisor), 10, "the supervisor to stop")
        wait_for(lambda: not copies(marker), 10, "the supervised process to stop")
        assert not alive(third)
        assert not pidfile.exists()
        time.sleep(2.5)  # longer than the back-off: nothing is started again
        assert copies(marker) == []
    finally:
        for pid in copies(marker):
            os.kill(pid, signal.SIGKILL)
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait(10)


# What run_scaled.sh does: a cleanup trap in the outer shell, supervisors started after it.
CTRL_C_SCRIPT = """
source "$1/scripts/lib.sh"
PIDS=()
cleanup() { trap - INT TERM EXIT; kill "${PIDS[@]}" 2>/dev/null || true; wait || true; }
trap cleanup INT TERM EXIT
for name in one two; do
  supervise "$name" "$2/$name.pid" "$2/$name.log" python3 -c 'import time; time.sleep(600)' "$3" &
  PIDS+=($!)
done
wait -n "${PIDS[@]}"
"""


def test_ctrl_c_stops_the_supervised_processes(tmp_path: Path) -> None:
    marker = f"saathi-supervise-ctrl-c-{os.getpid()}-{time.monotonic_ns()}"
    shell = subprocess.Popen(["bash", "-c", CTRL_C_SCRIPT, "bash", str(ROOT), str(tmp_path), marker],
                             start_new_session=True)
    try:
        wait_for(lambda: len(copies(marker)) == 2, 10, "both processes")
        os.killpg(shell.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        shell.wait(15)
        wait_for(lambda: not copies(marker), 10, "every supervised process to stop")
        assert not (tmp_path / "one.pid").exists() and not (tmp_path / "two.pid").exists()
    finally:
        for pid in copies(marker):
            os.kill(pid, signal.SIGKILL)
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait(10)
