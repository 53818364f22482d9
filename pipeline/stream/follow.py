"""`pipeline follow`: the outcome topics as JSON Lines on standard output, as they arrive.

For the people who react to outcomes as they happen: a fraud analyst watching new `invalid`
records, an operator watching rejections after a deploy, an advertiser's integration tailing
its subject's rated usage. A faust agent reads the topics in micro-batches
(`stream.take_events`): one write and flush of standard output per batch, not per message.

Each follower is its own consumer group, so every follower sees every message; it starts at the
end of the topics, or at their beginning with `--from-beginning`. Messages are printed as they
come (the topics are a changelog: see feed.py for `version` and `removed`).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, cast

import faust

from .app import data_dir, make_app
from .feed import FEED_TOPICS

BATCH = 500  # messages printed per write, at most
WITHIN_S = 0.2  # a message waits at most this long for others to join its batch


@dataclass(frozen=True)
class Filter:
    """Which messages to print: all of the given subjects/outcomes (empty: any)."""

    subjects: frozenset[str] = frozenset()
    outcomes: frozenset[str] = frozenset()

    def line(self, topic: str, key: bytes | None, value: bytes | None) -> str | None:
        """The message as one JSON line ({"topic", "key", then its fields}), or None when
        filtered out. A retraction (`removed`) passes the outcome filter: it may undo a record
        that did."""
        doc: dict[str, Any] = json.loads(value or b"{}")
        if self.subjects and doc.get("subject") not in self.subjects and not doc.get("removed"):
            return None
        if self.outcomes and doc.get("outcome") not in self.outcomes and not doc.get("removed"):
            return None
        head = {"topic": topic, "key": (key or b"").decode()}
        return json.dumps({**head, **doc}, ensure_ascii=False) + "\n"


def follow_agent(app: faust.App, topics: Sequence[str], keep: Filter, out: TextIO) -> Any:
    """The agent: micro-batches of messages -> filtered JSON lines -> one write to `out`."""
    topic = app.topic(
        *topics, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(topic)
    async def follow(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        batches = cast(faust.Stream[bytes], stream).take_events(BATCH, within=WITHIN_S)
        async for events in batches:
            lines = [
                line
                for e in events
                if (line := keep.line(e.message.topic, e.message.key, e.message.value))
            ]
            if lines:
                out.write("".join(lines))
                out.flush()
            yield len(lines)

    return follow


async def follow(
    broker_url: str,
    topics: Sequence[str],
    keep: Filter,
    *,
    from_beginning: bool,
    out: TextIO = sys.stdout,
) -> None:
    """Print the topics' messages until SIGINT/SIGTERM."""
    from .broker import ensure_topics
    from .worker import serve

    await ensure_topics(broker_url, {t: FEED_TOPICS[t] for t in topics})
    with data_dir("follow") as state:
        app = make_app(
            broker_url,
            data_dir=state,
            group_id=f"pipeline-follow-{uuid.uuid4().hex[:12]}",
            offset_reset="earliest" if from_beginning else "latest",
        )
        follow_agent(app, topics, keep, out)
        await serve(app)
