"""Synthetic event generator: realistic, deterministic and fast enough for 10M-event benchmarks.

Why it exists: the benchmarks and the bundled `sample/` need traffic that looks like production
(mostly ad impressions and clicks, telecom usage with partial sessions, quality probes and
incidents) *and* every kind of trouble the contract handles: duplicates, late arrivals, bad
records of each rejection reason, fraud patterns, unknown accounts, out-of-contract times and
unknown destinations.

Why it looks like this: a per-event Python loop tops out near 100k events/s, so each chunk of
up to 200k events is drawn with numpy and rendered with polars `concat_str` from one template
per record type over pre-built string pools; the chunk's bytes go from the Arrow buffer to the
file in one `writev`. Only the few hundred special records per chunk (bad records, incidents,
the small CSV file) go through a Python loop. Memory is bounded by the chunk size.

Output: `OUT_DIR/rules/` (a full rule set, contract section 3) and `OUT_DIR/events/part-NNN.jsonl`
plus one small `part-NNN.csv`; sorted file order is replay order. Files are roughly chronological
(January first); records within a chunk are shuffled. The same (events, seed, files, id_prefix)
always gives the same bytes.

Modules, in the order data flows:
  world        who sends traffic, when (the ramp), outages
  templates    one line template per record type, and the vectorised renderer
  context      string pools and the run's id serials and month counts
  ads, telecom, quality, bad_records    the record makers
  chunks       chunks over files, and the mix of record types in a chunk
  writer       the JSON Lines files: carry-over of copies and late lines, `writev`
  csv_file     the small CSV file
  rules        the rule set written next to the events
  run          `generate`, the library entry point; command: `pipeline generate`
"""

from .bad_records import BAD_RECORDS
from .command import generate_command
from .csv_file import CSV_COLUMNS
from .rules import RULES
from .run import GenerateSummary, generate

__all__ = ["BAD_RECORDS", "CSV_COLUMNS", "RULES", "GenerateSummary", "generate", "generate_command"]
