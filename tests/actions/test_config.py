import subprocess
import sys
from pathlib import Path

from actions.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_documented_ports():
    s = load_settings({})
    assert (s.rasa_port, s.action_port, s.bridge_port) == (5005, 5055, 8000)
    assert s.action_url == "http://127.0.0.1:5055/webhook"
    assert s.embed_model == "multilingual-e5-small"
    assert s.orders_db.startswith("sqlite:///")


def test_environment_overrides_and_derived_urls_follow():
    s = load_settings({"SAATHI_RASA_PORT": "6005", "SAATHI_RUN_DIR": "/tmp/x"})
    assert s.rasa_url == "http://127.0.0.1:6005"
    assert s.tracker_db == "/tmp/x/tracker.db"


def test_env_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("SAATHI_RASA_TOKEN=from-file\nSAATHI_ACTION_PORT=7000\n")
    monkeypatch.setenv("SAATHI_ENV_FILE", str(env_file))
    monkeypatch.setenv("SAATHI_ACTION_PORT", "7100")
    s = load_settings()
    assert s.rasa_token == "from-file"
    assert s.action_port == 7100


def test_shell_output_is_sourceable_and_hides_nothing_it_should_not(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SAATHI_ENV_FILE": str(tmp_path / "none"),
           "SAATHI_RASA_TOKEN": "s3cret value"}
    out = subprocess.run([sys.executable, "-m", "actions.config", "--shell"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "SAATHI_RASA_TOKEN='s3cret value'" in out
    shown = subprocess.run([sys.executable, "-m", "actions.config"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert "s3cret" not in shown and "SAATHI_RASA_TOKEN=***" in shown
