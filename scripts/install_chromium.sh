#!/bin/sh
# Install Debian's chromium for the report's browser test, unless it is present.
#
# Idempotent: does nothing when /usr/bin/chromium already exists. Otherwise it
# installs the package with apt-get, which needs root and access to a Debian
# mirror. Exits non-zero with a message saying what to do when it cannot.
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install_chromium.sh: $CHROMIUM is missing and installing it needs root;" \
        "run 'sudo apt-get install chromium' or run this script as root." >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium.sh: $CHROMIUM is missing and apt-get is not available;" \
        "install Debian's chromium package by hand." >&2
    exit 1
fi

echo "install_chromium.sh: installing Debian's chromium package ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -q >&2 \
    || ! apt-get install -y -q --no-install-recommends chromium >&2; then
    echo "install_chromium.sh: apt-get could not install chromium; check that a" \
        "Debian mirror is reachable, then run this script again." >&2
    exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
    echo "install_chromium.sh: the chromium package installed, but $CHROMIUM" \
        "does not exist; check the package's file list (dpkg -L chromium)." >&2
    exit 1
fi
echo "install_chromium.sh: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)." >&2
