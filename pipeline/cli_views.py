"""The commands analysts use to look into the warehouse: `query`, `export rated`,
`flags list` and `flags history`. Kept out of cli.py so it stays small; cli.py registers
them (`_register_optional`) and, as for every command, turns their errors into messages.
All of them open the warehouse read-only.
"""

from __future__ import annotations

import click

from .cli import period_option, warehouse_option
from .flag_views import REASONS, STATUSES
from .tabular import FORMATS, pieces, render


def _read(warehouse: str):  # type: ignore[no-untyped-def]
    from .warehouse import Warehouse

    return Warehouse.open(warehouse)


def format_option(choices: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output: an aligned table for reading, or "
        + " / ".join(c.upper() for c in choices[1:])
        + " for other programs.",
    )


@click.command("query")
@warehouse_option
@format_option(FORMATS)
@click.argument("sql")
def query(warehouse: str, fmt: str, sql: str) -> None:
    """Run one read-only SQL query over the warehouse views and print the rows.

    SQL is a single SELECT (or WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) statement;
    `-` reads it from standard input. Views: rated_records, usage_outcomes, fraud_flags,
    record_outcomes, accepted_events, unbilled_records, rejected_records, invoices, ...
    """
    from .query import run_query

    if sql == "-":
        sql = click.get_text_stream("stdin").read()
    with _read(warehouse) as wh:
        columns, chunks = run_query(wh.con, sql)
        for piece in pieces(fmt, columns, chunks):
            click.echo(piece, nl=False)


@click.command("rated")
@warehouse_option
@period_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Parquet file to write (replaced atomically).",
)
def export_rated(warehouse: str, period: str, out: str) -> None:
    """The period's rated records (view rated_records) as a Parquet file."""
    from .query import export_rated as write

    with _read(warehouse) as wh:
        n = write(wh.con, period, out)
    click.echo(f"wrote {n} rated record(s) of {period} to {out}", err=True)


@click.command("list")
@warehouse_option
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Review status.")
@click.option("--reason", type=click.Choice(REASONS), default=None, help="Fraud rule.")
@click.option("--period", default=None, help="Only flags of this period (YYYY-MM).")
@click.option("--account", default=None, help="Only flags of this account (event subject).")
@format_option(("table", "json"))
def flags_list(
    warehouse: str,
    status: str | None,
    reason: str | None,
    period: str | None,
    account: str | None,
    fmt: str,
) -> None:
    """Flags with their campaign, time and latest review, sorted by (source, id)."""
    from .flag_views import list_flags

    with _read(warehouse) as wh:
        columns, rows = list_flags(
            wh.con, status=status, reason=reason, period=period, account=account
        )
    click.echo(render(fmt, columns, rows), nl=False)


@click.command("history")
@warehouse_option
@format_option(("table", "json"))
@click.argument("record", nargs=-1)
def flags_history(warehouse: str, fmt: str, record: tuple[str, ...]) -> None:
    """The review audit trail, oldest first: every review with who, when and the note.

    With EVENT_SOURCE EVENT_ID, only that record's reviews.
    """
    from .errors import UsageError
    from .flag_views import history

    if len(record) not in (0, 2):
        raise UsageError("give one record as EVENT_SOURCE EVENT_ID, or none for every review")
    source, id_ = record if record else (None, None)
    with _read(warehouse) as wh:
        columns, rows = history(wh.con, source, id_)
    click.echo(render(fmt, columns, rows), nl=False)
