#!/usr/bin/env bash
# Debian's Chromium for the browser tests (driven by Playwright with executablePath; Playwright
# never downloads a browser of its own). Prints the browser's path on stdout.
#   scripts/chromium.sh     ensure it is installed (apt-get as root, sudo otherwise)
# $SAATHI_CHROMIUM names another binary and skips the install.
source "$(dirname "$0")/lib.sh"

if [ -n "${SAATHI_CHROMIUM:-}" ]; then
  [ -x "$SAATHI_CHROMIUM" ] || die "SAATHI_CHROMIUM=$SAATHI_CHROMIUM is not an executable"
  echo "$SAATHI_CHROMIUM"; exit 0
fi
for c in /usr/bin/chromium "$(command -v chromium || true)"; do
  [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; exit 0; }
done

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
say "installing Debian's chromium, chromium-driver and fonts-noto-core (Devanagari, Bengali) for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-core >&2; then
  $SUDO apt-get update -qq >&2 || true
  $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-core >&2 \
    || die "could not install chromium (apt-get); set SAATHI_CHROMIUM to a Chromium binary"
fi
[ -x /usr/bin/chromium ] || die "chromium installed but /usr/bin/chromium is missing"
echo /usr/bin/chromium
