"""Streaming mode: the batch stages wired to a Kafka-protocol broker.

`publish` sends raw records to `events.raw` (`messages.py` is the wire format), `app` builds the
faust app the worker runs on, `broker` finds the broker and says clearly when none answers.
"""
