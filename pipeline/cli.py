"""The `pipeline` command. The only module that prints errors and chooses exit codes: domain
code raises typed errors (errors.py); here each becomes one line on stderr saying what to do,
with the traceback only under `--debug`."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import click
import duckdb

from . import exports
from .config import DEFAULT_RULES, default_warehouse
from .errors import PipelineError

EXIT_ERROR = 1
EXIT_INTERNAL = 3

warehouse_option = click.option(
    "--warehouse",
    "warehouse",
    default=default_warehouse,
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


def emit(value: Any) -> None:
    """JSON to standard output: the contract's exports."""
    click.echo(json.dumps(value, indent=1, ensure_ascii=False))


@click.group()
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
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def replay(rules_dir: str, warehouse: str, quiet: bool, files: tuple[str, ...]) -> None:
    """Run the whole pipeline over FILES (.jsonl, .csv, .parquet), in order, as one batch."""
    from .replay import replay_files

    summary = replay_files(rules_dir, warehouse, list(files), progress=not quiet)
    click.echo(summary, err=True)


@cli.command()
@rules_option
@warehouse_option
@period_option
def bill(rules_dir: str, warehouse: str, period: str) -> None:
    """Compute the period's invoices (and SLA credits) and store them in the warehouse."""
    from .replay import bill_period

    click.echo(bill_period(rules_dir, warehouse, period), err=True)


@cli.group()
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
        emit(exports.invoices(wh.con, period))


@export.command("statement")
@warehouse_option
@period_option
@click.option("--account", required=True, help="Account (event subject).")
def export_statement(warehouse: str, period: str, account: str) -> None:
    """An advertiser's click and impression statement for one period."""
    from .invoice import period_bounds

    period_bounds(period)
    with _read(warehouse) as wh:
        emit(exports.statement(wh.con, wh.last_rules(), account, period))


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


@cli.group()
def flags() -> None:
    """Review fraud flags: dismiss or confirm them."""


def _review(status: str, warehouse: str, pairs: tuple[str, ...], note: str | None) -> None:
    from .review import review_flags

    changed = review_flags(warehouse, status, pairs, note)
    click.echo(f"{status} {changed} flag(s)", err=True)


@flags.command("dismiss")
@warehouse_option
@click.option("--note", default=None, help="Why, recorded with who and when.")
@click.argument("ids", nargs=-1, required=True)
def flags_dismiss(warehouse: str, note: str | None, ids: tuple[str, ...]) -> None:
    """Dismiss flags: EVENT_SOURCE EVENT_ID [EVENT_SOURCE EVENT_ID ...]."""
    _review("dismissed", warehouse, ids, note)


@flags.command("confirm")
@warehouse_option
@click.option("--note", default=None, help="Why, recorded with who and when.")
@click.argument("ids", nargs=-1, required=True)
def flags_confirm(warehouse: str, note: str | None, ids: tuple[str, ...]) -> None:
    """Confirm flags: EVENT_SOURCE EVENT_ID [EVENT_SOURCE EVENT_ID ...]."""
    _review("confirmed", warehouse, ids, note)


def _register_optional() -> None:
    """Commands living in their own modules."""
    from .generate import generate_command

    cli.add_command(generate_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every error into one line and an exit code."""
    _register_optional()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="pipeline", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except PipelineError as exc:
        if debug:
            traceback.print_exc()
        hint = f" ({exc.hint})" if exc.hint else ""
        click.echo(f"error: {exc}{hint}", err=True)
        sys.exit(EXIT_ERROR)
    except duckdb.Error as exc:
        if debug:
            traceback.print_exc()
        first = str(exc).splitlines()[0]
        click.echo(f"error: warehouse operation failed: {first} (run with --debug for details)", err=True)
        sys.exit(EXIT_INTERNAL)
    except (OSError, MemoryError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc} (run with --debug for details)", err=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()



