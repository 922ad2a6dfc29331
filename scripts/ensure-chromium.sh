#!/usr/bin/env bash
# The dashboard test drives Debian's Chromium through ChromeDriver: install both when missing.
# Needs root and apt-get; otherwise it says what is missing and the test reports it (it fails in CI).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test: chromium and chromedriver are missing (Debian: apt-get install chromium chromium-driver)" >&2
  exit 0
fi
echo "test: installing chromium and chromium-driver for the dashboard test" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
