"""One hierarchy of errors. Domain code raises them with the offending item; only `cli.py`
turns them into a one-line message and an exit code."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error a user can act on. `hint` says what to do about it."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class RuleError(PipelineError):
    """A rule file that does not load or validate: names the file, the entry and the problem."""

    hint = "fix the rule file and run again; nothing was rated or written"

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file, self.path, self.problem = file, path, problem
        where = f"{file}: {path}: " if path else f"{file}: "
        super().__init__(where + problem)


class WarehouseError(PipelineError):
    """The warehouse is missing, locked by another command, or not a warehouse."""


class WarehouseBusy(WarehouseError):
    """Another command holds the warehouse's lock past the wait limit."""


class UsageError(PipelineError):
    """A command was given arguments it cannot act on (unknown account, bad period, ...)."""


class BrokerError(PipelineError):
    """No Kafka-protocol broker answers at the configured address."""

    hint = "start one with `scripts/broker.sh start` (or set --broker / PIPELINE_BROKER)"
