"""A real Kafka-protocol broker for the `broker` tests: started once per session by
`scripts/broker.sh` on a free port (so a developer's broker on 9092 is never touched) and stopped
after. Set PIPELINE_TEST_BROKER=kafka://HOST:PORT to run the same tests against another broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# tests/helpers.py and tests/worked_example.py, importable from here as from tests/*.py
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("PIPELINE_TEST_BROKER"):
        yield url
        return
    port = free_port()
    env = {
        **os.environ,
        "PIPELINE_BROKER_PORT": str(port),
        "PIPELINE_STATE_DIR": str(tmp_path_factory.mktemp("broker")),
    }

    def broker(cmd: str) -> subprocess.CompletedProcess[str]:
        script = str(REPO / "scripts" / "broker.sh")
        # `timeout -k`: the script waits at most 20 s itself; this only guards against a hang.
        return subprocess.run(
            ["timeout", "-k", "5", "40", script, cmd], env=env, capture_output=True, text=True
        )

    started = broker("start")
    if started.returncode != 0:
        pytest.fail(f"scripts/broker.sh start failed:\n{started.stdout}{started.stderr}")
    try:
        yield f"kafka://127.0.0.1:{port}"
    finally:
        broker("stop")
