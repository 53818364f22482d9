"""Streaming mode: the batch stages wired to a Kafka-protocol broker (docs/streaming.md).

`publish` sends raw records to `events.raw` (`messages.py` is the wire format); `broker` finds the
broker, says clearly when none answers, and reads what the broker knows (cluster id, log ends);
`app` builds the faust app; `ingest` is the worker's loop inside it (fetch -> micro-batch ->
warehouse -> commit); `batch` is the one warehouse write, where exactly-once is decided;
`worker` and `commands` are the `worker`, `publish` and `stream` commands.
"""
