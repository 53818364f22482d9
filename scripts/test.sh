#!/usr/bin/env bash
# Install what the tests need, lint, and run the whole suite: unit, contract scenarios, property,
# crash, fuzz, and the streaming tests against a real Kafka-protocol broker that this script
# starts (and stops) itself. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"
# (an editable install leaves the package uncompiled, and with PYTHONDONTWRITEBYTECODE set every
# command would compile it again at start-up: 20 ms of each; a regular install compiles it too)
.venv/bin/python -m compileall -q pipeline bench
scripts/install-test-deps.sh || echo "warning: could not install chromium; the HTML render test will be skipped" >&2
.venv/bin/ruff check pipeline tests bench
.venv/bin/ruff format --check pipeline tests bench
.venv/bin/mypy
export PIPELINE_STATE_DIR=${PIPELINE_STATE_DIR:-$PWD/.broker}
scripts/broker.sh start
trap 'scripts/broker.sh stop || true' EXIT
.venv/bin/pytest -q "$@"
