# Shared shell helpers for Saathi's scripts. Source it; do not run it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_RASA="${SAATHI_VENV_RASA:-$ROOT/.venv-rasa}"
VENV_APP="${SAATHI_VENV_APP:-$ROOT/.venv}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\033[1m[saathi]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[saathi] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Python 3.10 for Rasa 3.6: $SAATHI_PYTHON310, then pyenv, then PATH.
find_python310() {
  local c
  for c in "${SAATHI_PYTHON310:-}" \
           $(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.10.*/bin/python 2>/dev/null | sort -V -r) \
           "$(command -v python3.10 || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

find_python311() {
  local c
  for c in "${SAATHI_PYTHON311:-}" "$(command -v python3.11 || true)" \
           $(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.11.*/bin/python 2>/dev/null | sort -V -r) \
           "$(command -v python3 || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

hash_files() { cat "$@" | sha256sum | cut -c1-16; }

# Load .env (without overriding the environment) so scripts see the same settings.
load_dotenv() {
  if [ -f "$ROOT/.env" ]; then
    local line key
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in ''|'#'*) continue;; esac
      key="${line%%=*}"
      [ -z "${!key:-}" ] && export "$line"
    done < "$ROOT/.env"
  fi
  return 0
}
