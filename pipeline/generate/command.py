"""`pipeline generate`: the command-line face of `generate`, also runnable on its own as
`python -m pipeline.generate` (before, and without, the `pipeline` CLI)."""

from __future__ import annotations

from pathlib import Path

import click

from .run import generate

MAX_EVENTS = 1_000_000_000


@click.command("generate")
@click.option(
    "--events",
    # (10^9 events are about 260 GB of JSON Lines; far more ran for ever planning its chunks)
    type=click.IntRange(min=0, max=MAX_EVENTS),
    default=10_000,
    show_default=True,
    help=f"Input records to write (JSON Lines lines plus CSV rows), at most {MAX_EVENTS:,}.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Random seed: the same seed gives the same bytes.",
)
@click.option("--files", type=int, default=4, show_default=True, help="JSON Lines files.")
@click.option("--id-prefix", default="", help="Put before every id, so extra data cannot collide.")
@click.option("--force", is_flag=True, help="Replace the event files of an earlier run.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of a sentence.")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def generate_command(
    events: int, seed: int, files: int, id_prefix: str, force: bool, as_json: bool, out_dir: Path
) -> None:
    """Write a realistic synthetic data set to OUT_DIR: rules/ and events/.

    Mostly ad impressions and clicks, telecom usage with partial sessions, quality probes and
    incidents, with duplicates, late arrivals, bad records of every rejection reason, fraud
    patterns and unknown accounts. Replay it with
    `pipeline replay --rules OUT_DIR/rules OUT_DIR/events/*`.
    """
    s = generate(out_dir, events, seed, files=files, id_prefix=id_prefix, force=force)
    if as_json:
        click.echo(s.to_json())
        return
    rate = s.events / s.seconds if s.seconds else 0.0
    click.echo(
        f"wrote {s.events:,} events ({s.bytes / 1e6:,.1f} MB in {len(s.files)} files) to "
        f"{out_dir} in {s.seconds:.1f} s ({rate:,.0f} events/s); busiest period {s.busiest_period}"
    )
