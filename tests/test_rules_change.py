"""`bill` with a changed rule set re-prices everything ingested, and the exports that take no
--rules use the rule set last recorded (contract 3.3)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "contract" / "examples" / "basic"
PIPELINE = str(Path(sys.executable).parent / "pipeline")


def run(*args: str) -> str:
    proc = subprocess.run([PIPELINE, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_bill_with_new_prices_reprices_what_was_replayed(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(EXAMPLE / "rules", rules)
    wh = str(tmp_path / "wh")
    events = sorted(str(p) for p in (EXAMPLE / "events").iterdir())
    run("replay", "--rules", str(rules), "--warehouse", wh, *events)
    plan = rules / "plans" / "ads-standard.yaml"
    # ad.click 0.35 -> 0.40 (EUR): acme's 19 billable October clicks become 7.60
    plan.write_text(plan.read_text().replace("price: '0.35'", "price: '0.40'"))
    run("bill", "--rules", str(rules), "--warehouse", wh, "--period", "2026-10")
    acme = json.loads(run("export", "invoices", "--warehouse", wh, "--period", "2026-10"))[0]
    clicks = next(ln for ln in acme["lines"] if ln.get("type") == "ad.click")
    assert clicks == {"kind": "usage", "type": "ad.click", "quantity": "19", "amount": "7.60"}
    # the statement (no --rules) now prices with the recorded rules: csv-camp's 3 billable
    # clicks at 0.40 = 1.20, plus its 3 impressions at 2.10/1000 = 0.0063 -> 1.21
    st = json.loads(
        run("export", "statement", "--warehouse", wh, "--period", "2026-10", "--account", "acme")
    )
    camp = next(c for c in st["campaigns"] if c["campaign"] == "csv-camp")
    assert camp["amount"] == "1.21"
