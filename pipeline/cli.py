"""The `pipeline` command. The only module that prints errors and chooses exit codes: domain
code raises typed errors (errors.py); here each becomes one line on stderr saying what to do,
with the traceback only under `--debug`."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click
import duckdb

from . import exports, interrupts, json_text
from .config import DEFAULT_RULES, INGEST_MEMORY_LIMIT, default_warehouse
from .errors import PipelineError

EXIT_ERROR = 1
EXIT_INTERNAL = 3


def _named_directory(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An empty --warehouse (or PIPELINE_WAREHOUSE=) would be the current directory, and a
    replay would write its warehouse files among the user's own."""
    if not value:
        raise click.BadParameter("is empty; name the warehouse directory", ctx, param)
    return value


warehouse_option = click.option(
    "--warehouse",
    "warehouse",
    default=default_warehouse,
    callback=_named_directory,
    show_default="$PIPELINE_WAREHOUSE or ./warehouse",
    type=click.Path(file_okay=False),
    help="Warehouse directory (DuckDB file + Parquet).",
)
rules_option = click.option(
    "--rules",
    "rules_dir",
    default=DEFAULT_RULES,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Rule directory: plans/*.yaml, accounts.yaml, slas.yaml, fraud.yaml.",
)
period_option = click.option("--period", required=True, help="Billing period, YYYY-MM (UTC month).")
bill_period_option = click.option(
    "--period",
    required=True,
    help="Billing period, YYYY-MM (UTC month), or `all` (every period with usage).",
)


def _writable_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A metrics file is written after the command's work has committed: a path that cannot be
    written is refused before any work, not reported as a failure of work that was done."""
    if value is None:
        return value
    path = Path(value)
    directory = path.parent
    if not value or path.is_dir():
        raise click.BadParameter(f"{value!r} is not a file name", ctx, param)
    if not directory.is_dir():
        raise click.BadParameter(f"directory {str(directory)!r} does not exist", ctx, param)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise click.BadParameter(f"directory {str(directory)!r} is not writable", ctx, param)
    return value


metrics_file_option = click.option(
    "--metrics-file",
    default=None,
    callback=_writable_file,
    type=click.Path(dir_okay=False),
    help="After success, write this command's Prometheus metrics here (node-exporter textfile"
    " collector; name it *.prom, one file per command). See dashboards/README.md.",
)


def emit(value: Any) -> None:
    """JSON to standard output: the contract's exports."""
    click.echo(json_text.dumps(value))


class LazyGroup(click.Group):
    """A group whose commands from other modules are imported only when used: every command
    would otherwise pay for importing polars (generate) and faust (streaming) at start-up."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, name)


@click.group(
    cls=LazyGroup,
    lazy={
        "generate": "pipeline.generate:generate_command",
        "query": "pipeline.cli_views:query",
        "worker": "pipeline.stream.commands:worker",
        "publish": "pipeline.stream.commands:publish",
        "stream": "pipeline.stream.commands:stream",
        "follow": "pipeline.stream.commands:follow",
    },
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Mediation and rating pipeline: usage and service-quality events in; rated records, SLA
    credits and invoices out, through a DuckDB/Parquet warehouse."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@rules_option
@warehouse_option
@click.option("--quiet", is_flag=True, help="No progress bar (the summary line still prints).")
@metrics_file_option
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def replay(
    rules_dir: str, warehouse: str, quiet: bool, metrics_file: str | None, files: tuple[str, ...]
) -> None:
    """Run the whole pipeline over FILES (.jsonl, .csv, .parquet), in order, as one batch."""
    from .readahead import read_ahead

    read_ahead(files)  # (first: the disk reads then overlap the imports and set-up below)
    from .replay import replay_files

    summary = replay_files(
        rules_dir, warehouse, list(files), progress=not quiet, metrics_file=metrics_file
    )
    click.echo(summary, err=True)


@cli.command()
@rules_option
@warehouse_option
@bill_period_option
@metrics_file_option
def bill(rules_dir: str, warehouse: str, period: str, metrics_file: str | None) -> None:
    """Compute the period's invoices (and SLA credits) and store them in the warehouse."""
    from .replay import bill_period

    click.echo(bill_period(rules_dir, warehouse, period, metrics_file=metrics_file), err=True)


@cli.command()
@warehouse_option
def summary(warehouse: str) -> None:
    """Outcome counts, invoice totals and top fraud reasons, for people."""
    from .summary import summarize

    with _read(warehouse) as wh:
        click.echo(summarize(wh.con))


@cli.group(cls=LazyGroup, lazy={"rated": "pipeline.cli_views:export_rated"})
def export() -> None:
    """Print the contract's JSON exports."""


def _read(warehouse: str):  # type: ignore[no-untyped-def]
    from .warehouse import Warehouse

    return Warehouse.open(warehouse)


@export.command("invoices")
@warehouse_option
@period_option
def export_invoices(warehouse: str, period: str) -> None:
    """The period's invoices, sorted by account (as last billed)."""
    from .invoice import period_bounds

    period_bounds(period)
    with _read(warehouse) as wh:
        value = exports.invoices(wh.con, period)
        unbilled = not value and not wh.rated_partition(period).exists()
    emit(value)
    if unbilled:  # `[]` alone reads as "billed, nothing owed"; say the period was never billed
        click.echo(
            f"no invoices: {period} has not been billed (`pipeline bill --period {period}`)",
            err=True,
        )


@export.command("statement")
@warehouse_option
@period_option
@click.option("--account", required=True, help="Account (event subject).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "html"]),
    default="json",
    show_default=True,
    help="json: the contract's statement; html: a self-contained page with a daily chart.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file (atomically) instead of standard output.",
)
def export_statement(warehouse: str, period: str, account: str, fmt: str, out: str | None) -> None:
    """An advertiser's click and impression statement for one period."""
    from .invoice import period_bounds

    period_bounds(period)
    if fmt == "html":
        from .html_statement import statement_html

        with _read(warehouse) as wh:
            page = statement_html(wh.con, wh.last_rules(), account, period)
        _deliver(page, out)
        return
    with _read(warehouse) as wh:
        value = exports.statement(wh.con, wh.last_rules(), account, period)
    if out is None:
        emit(value)
    else:
        _deliver(json_text.dumps(value) + "\n", out)


def _deliver(content: str, out: str | None) -> None:
    """`content` to standard output, or atomically to the file `out`."""
    if out is None:
        click.echo(content, nl=False)
        return
    from .outfile import write_text

    write_text(out, content)
    click.echo(f"wrote {out}", err=True)


@export.command("reconcile")
@warehouse_option
def export_reconcile(warehouse: str) -> None:
    """Outcome counts over everything ingested; `input` equals the sum of the others."""
    with _read(warehouse) as wh:
        emit(exports.reconcile(wh.con))


@export.command("flags")
@warehouse_option
@click.option("--period", default=None, help="Only flags of this period (YYYY-MM).")
def export_flags(warehouse: str, period: str | None) -> None:
    """Records a fraud rule marks, sorted by (source, id), with their review status."""
    with _read(warehouse) as wh:
        emit(exports.flags(wh.con, period))


@cli.group(
    cls=LazyGroup,
    lazy={"list": "pipeline.cli_views:flags_list", "history": "pipeline.cli_views:flags_history"},
)
def flags() -> None:
    """Review fraud flags: list them, dismiss or confirm them, show the review history."""


def _review(
    status: str, warehouse: str, pairs: tuple[str, ...], note: str | None, file: Any = None
) -> None:
    from .errors import UsageError
    from .flag_views import read_pairs
    from .review import review_flags

    if file is not None:
        pairs += read_pairs(file, file.name)
    if not pairs:
        raise UsageError("no flags given", "give EVENT_SOURCE EVENT_ID pairs, or --file FILE")
    changed = review_flags(warehouse, status, pairs, note)
    click.echo(f"{status} {changed} flag(s)", err=True)


pairs_file_option = click.option(
    "--file",
    "file",
    # (utf-8-sig: a byte-order mark, as Windows tools write, is not part of the first source)
    type=click.File("r", encoding="utf-8-sig"),
    default=None,
    help="Flags to review, one per line: EVENT_SOURCE<TAB>EVENT_ID ('-': standard input).",
)


# (an event id may start with '-': an unknown option is then read as one, not refused)
@flags.command("dismiss", context_settings={"ignore_unknown_options": True})
@warehouse_option
@click.option("--note", default=None, help="Why, recorded with who and when.")
@pairs_file_option
@click.argument("ids", nargs=-1)
def flags_dismiss(warehouse: str, note: str | None, file: Any, ids: tuple[str, ...]) -> None:
    """Dismiss flags: EVENT_SOURCE EVENT_ID [EVENT_SOURCE EVENT_ID ...] and/or --file."""
    _review("dismissed", warehouse, ids, note, file)


@flags.command("confirm", context_settings={"ignore_unknown_options": True})
@warehouse_option
@click.option("--note", default=None, help="Why, recorded with who and when.")
@pairs_file_option
@click.argument("ids", nargs=-1)
def flags_confirm(warehouse: str, note: str | None, file: Any, ids: tuple[str, ...]) -> None:
    """Confirm flags: EVENT_SOURCE EVENT_ID [EVENT_SOURCE EVENT_ID ...] and/or --file."""
    _review("confirmed", warehouse, ids, note, file)


def _aborted(*, process: bool) -> NoReturn:
    """`aborted`, exit 1. As the process (not called in-process by tests), without Python's
    shutdown: a Ctrl-C during a replay's read leaves DuckDB's threads pulling from the Python
    reader, and the shutdown ending them ends the process in SIGABRT ("FATAL: exception not
    rethrown"). The transaction has rolled back and the warehouse is closed by now."""
    click.echo("aborted", err=True)
    if process:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_ERROR)
    sys.exit(EXIT_ERROR)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every error into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # (in-process callers, tests, keep their Ctrl-C handler after a command)
        interrupts.hold_until_exit()
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="pipeline", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _aborted(process=argv is None)
    except RuntimeError as exc:
        # Ctrl-C while DuckDB runs a statement reaches us as this, not as KeyboardInterrupt
        # (the transaction has rolled back by then, like any other failure)
        if str(exc) != "Query interrupted":
            raise
        _aborted(process=argv is None)
    except PipelineError as exc:
        if debug:
            traceback.print_exc()
        hint = f" ({exc.hint})" if exc.hint else ""
        click.echo(" ".join(f"error: {exc}{hint}".split()), err=True)  # one line, always
        sys.exit(EXIT_ERROR)
    except duckdb.Error as exc:
        if debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0]
        if isinstance(exc, duckdb.OutOfMemoryException):
            # (e.g. one record of tens of MB under the ingest cap): the user's to raise
            click.echo(
                f"error: {first} (raise PIPELINE_MEMORY_LIMIT, e.g. PIPELINE_MEMORY_LIMIT=4GB;"
                f" replay and the stream worker keep to {INGEST_MEMORY_LIMIT} by default;"
                " nothing was written)",
                err=True,
            )
            sys.exit(EXIT_ERROR)
        click.echo(
            f"error: warehouse operation failed: {first} (run with --debug for details)", err=True
        )
        sys.exit(EXIT_INTERNAL)
    except (OSError, MemoryError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc} (run with --debug for details)", err=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
