#!/usr/bin/env bash
# Quick start: install the project into .venv and run the main job end to end on the bundled
# sample (replay every file, bill every period, print a summary). No server needed: the
# warehouse is a DuckDB file plus Parquet under out/demo-warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e .
# (an editable install leaves the package uncompiled, and with PYTHONDONTWRITEBYTECODE set every
# command would compile it again at start-up: 20 ms of each; a regular install compiles it too)
.venv/bin/python -m compileall -q pipeline bench
WH=${DEMO_WAREHOUSE:-out/demo-warehouse}
rm -rf "$WH"
.venv/bin/pipeline replay --rules sample/rules --warehouse "$WH" sample/events/*
.venv/bin/pipeline bill --rules sample/rules --warehouse "$WH" --period all
.venv/bin/pipeline summary --warehouse "$WH"
echo
echo "warehouse: $WH  (try: .venv/bin/pipeline export reconcile --warehouse $WH)"
