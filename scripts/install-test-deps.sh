#!/bin/sh
# Test dependencies that come from the Debian archive rather than PyPI.
# chromium renders the HTML statement in tests/test_html_statement.py (headless, offline);
# installed only when missing, so the script is cheap to run before every test session.
set -eu

if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    # noninteractive: a dependency (tzdata, ...) must not stop the install with a question.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
