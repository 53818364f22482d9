"""`pipeline query` (read-only SQL over the views) and `pipeline export rated` (Parquet), on the
contract's worked example."""

from __future__ import annotations

import json
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from worked_example import EXAMPLE, expected, fails, ok, replay_example

pytestmark = pytest.mark.skipif(not EXAMPLE.is_dir(), reason=f"worked example not at {EXAMPLE}")


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay_example(tmp_path_factory.mktemp("query") / "wh")


def query(wh: Path, sql: str, *fmt: str) -> str:
    return ok("query", "--warehouse", wh, *fmt, sql).stdout


# -- output formats ---------------------------------------------------------------------------


def test_table_is_aligned_with_numbers_right_and_a_row_count(wh: Path) -> None:
    # Flag reasons of expected/flags.json: 2 bot, 2 duplicate, 7 velocity, 6 orphan.
    out = query(wh, "SELECT reason, count(*) AS n FROM fraud_flags GROUP BY reason ORDER BY reason")
    assert out.splitlines() == [
        "reason           n",
        "---------------  -",
        "bot_user_agent   2",
        "duplicate_click  2",
        "ip_velocity      7",
        "orphan_click     6",
        "(4 rows)",
    ]


def test_json_rows_rebuild_the_expected_reconcile(wh: Path) -> None:
    out = query(
        wh,
        "SELECT outcome, reason, count(*) AS n FROM record_outcomes GROUP BY ALL ORDER BY ALL",
        "--format",
        "json",
    )
    rows = json.loads(out)
    want = expected("reconcile.json")
    assert sum(r["n"] for r in rows) == want["input"] == 205
    for r in rows:
        if isinstance(want[r["outcome"]], dict):
            assert want[r["outcome"]][r["reason"]] == r["n"], r
        else:
            assert r["reason"] is None and want[r["outcome"]] == r["n"], r
    assert len(rows) == 3 + sum(len(v) for v in want.values() if isinstance(v, dict))


def test_json_keeps_decimals_exact_and_times_iso(wh: Path) -> None:
    # acme's `edge` campaign: 8 clicks, all attributed, at the plan's 0.35 per click.
    out = query(
        wh,
        "SELECT id, amount, time FROM rated_records WHERE type = 'ad.click'"
        " AND subject = 'acme' AND campaign = 'edge' ORDER BY id",
        "--format",
        "json",
    )
    rows = json.loads(out)
    assert len(rows) == 8
    assert {r["amount"] for r in rows} == {"0.350000"}
    assert all(r["time"].startswith("2026-10-13T") for r in rows)


def test_csv_has_a_header_and_one_line_per_row(wh: Path) -> None:
    out = query(
        wh,
        "SELECT campaign, count(*) AS clicks, sum(amount) AS amount FROM rated_records"
        " WHERE type = 'ad.click' AND subject = 'acme' GROUP BY campaign ORDER BY campaign",
        "--format",
        "csv",
    )
    # billable_clicks of acme in expected/statements-2026-10.json, at 0.35 each.
    assert out.splitlines() == [
        "campaign,clicks,amount",
        "autumn,2,0.700000",
        "csv-camp,3,1.050000",
        "edge,8,2.800000",
        "promo,1,0.350000",
        "winter,5,1.750000",
    ]


def test_sql_from_standard_input(wh: Path) -> None:
    out = ok(
        "query",
        "--warehouse",
        wh,
        "--format",
        "csv",
        "-",
        stdin="SELECT count(*) AS n FROM fraud_flags\n",
    ).stdout
    assert out.splitlines() == ["n", "17"]


def test_duplicate_column_names_are_refused_in_json(wh: Path) -> None:
    err = fails("query", "--warehouse", wh, "--format", "json", "SELECT 1 AS a, 2 AS a")
    assert "column name `a` appears twice" in err


# -- read-only ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM flag_reviews", "a DELETE statement is not allowed"),
        ("DROP VIEW rated_records", "a DROP statement is not allowed"),
        ("INSERT INTO meta VALUES ('x', 'y')", "an INSERT statement is not allowed"),
        ("COPY meta TO 'meta.csv'", "a COPY statement is not allowed"),
        ("ATTACH 'other.duckdb'", "an ATTACH statement is not allowed"),
        ("PRAGMA version", "a PRAGMA statement is not allowed"),
        ("SET threads = 1", "a SET statement is not allowed"),
        ("SELECT 1; DELETE FROM meta", "give exactly one statement; got 2"),
        ("   ", "the query is empty"),
        ("SELEC 1", "query does not parse"),
    ],
)
def test_statements_that_are_not_one_query_are_refused(wh: Path, sql: str, message: str) -> None:
    err = fails("query", "--warehouse", wh, sql)
    assert message in err, err


def test_refused_statements_change_nothing(wh: Path) -> None:
    fails("query", "--warehouse", wh, "DROP VIEW rated_records")
    fails("query", "--warehouse", wh, "DELETE FROM events")
    out = query(wh, "SELECT count(*) AS n FROM record_outcomes", "--format", "csv")
    assert out.splitlines() == ["n", "205"]


def test_files_outside_the_warehouse_cannot_be_read(wh: Path) -> None:
    err = fails("query", "--warehouse", wh, "SELECT * FROM read_csv('/etc/passwd')")
    assert "reads the warehouse only, not files" in err


def test_a_mistake_in_the_query_is_a_user_error(wh: Path) -> None:
    err = fails("query", "--warehouse", wh, "SELECT no_such_column FROM rated_records")
    assert 'query failed: Binder Error: Referenced column "no_such_column" not found' in err


def test_missing_warehouse(tmp_path: Path) -> None:
    err = fails("query", "--warehouse", tmp_path / "none", "SELECT 1")
    assert "no warehouse at" in err


# -- export rated --------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_export_rated_writes_the_periods_rated_records(wh: Path, tmp_path: Path) -> None:
    out = tmp_path / "rated.parquet"
    p = ok("export", "rated", "--warehouse", wh, "--period", "2026-10", "--out", out)
    table = pq.read_table(out)
    assert p.stderr.strip() == f"wrote {table.num_rows} rated record(s) of 2026-10 to {out}"
    count = query(
        wh, "SELECT count(*) FROM rated_records WHERE period = '2026-10'", "--format", "csv"
    ).splitlines()[1]
    assert table.num_rows == int(count)
    rows = table.to_pylist()
    assert {r["period"] for r in rows} == {"2026-10"}
    # Rated clicks: the billable_clicks of every account's October statement (19 + 3 + 1).
    statements = expected("statements-2026-10.json")
    clicks = Counter(r["subject"] for r in rows if r["type"] == "ad.click")
    for account, st in statements.items():
        assert clicks[account] == sum(c["billable_clicks"] for c in st["campaigns"]), account
    assert sum(clicks.values()) == 23
    # Campaign amounts: the statement's amount is the rounded sum of the rated clicks' and
    # impressions' per-unit amounts (contract 6).
    for c in statements["acme"]["campaigns"]:
        total = sum(
            (
                r["amount"]
                for r in rows
                if r["subject"] == "acme"
                and r["campaign"] == c["campaign"]
                and r["type"] in ("ad.click", "ad.impression")
            ),
            Decimal(0),
        )
        assert money(total) == c["amount"], c["campaign"]


def test_export_rated_types_money_as_decimal_and_time_as_utc(wh: Path, tmp_path: Path) -> None:
    out = tmp_path / "rated.parquet"
    ok("export", "rated", "--warehouse", wh, "--period", "2026-10", "--out", out)
    schema = pq.read_schema(out)
    assert schema.field("amount").type == pa.decimal128(38, 6)
    assert schema.field("time").type == pa.timestamp("us", tz="UTC")


def test_export_rated_replaces_the_file_and_leaves_no_temporary(wh: Path, tmp_path: Path) -> None:
    out = tmp_path / "rated.parquet"
    out.write_text("an older export")
    ok("export", "rated", "--warehouse", wh, "--period", "2026-09", "--out", out)
    # September: impression imp-0000059 (09-30 23:59:59) and the call-999 session, whose
    # earliest part voi-0000073 is at 09-30 23:59 (contract 2.3: the session's period).
    rows = pq.read_table(out, columns=["id", "period", "parts"]).to_pylist()
    assert rows == [
        {"id": "voi-0000073", "period": "2026-09", "parts": 2},
        {"id": "imp-0000059", "period": "2026-09", "parts": 1},
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rated.parquet"]


def test_export_rated_of_a_bad_period_writes_nothing(wh: Path, tmp_path: Path) -> None:
    err = fails(
        "export", "rated", "--warehouse", wh, "--period", "2026-13", "--out", tmp_path / "r.parquet"
    )
    assert "period `2026-13` is not YYYY-MM" in err
    assert list(tmp_path.iterdir()) == []


def test_export_rated_killed_mid_write_keeps_the_old_file(
    wh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import query as query_module
    from pipeline.warehouse import Warehouse

    out = tmp_path / "rated.parquet"
    out.write_bytes(b"previous")

    def broken(con: object, sql: str, *args: object) -> None:
        # DuckDB's COPY has begun the (temporary) file when the disk fills up
        where = sql.split(" TO '", 1)[1].split("'", 1)[0]
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(query_module, "first_row", broken)
    with Warehouse.open(wh) as w, pytest.raises(OSError, match="disk full"):
        query_module.export_rated(w.con, "2026-10", out)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rated.parquet"]


# -- bill's partitions ---------------------------------------------------------------------------


def test_bill_bills_from_the_partition_it_leaves(tmp_path: Path) -> None:
    wh = replay_example(tmp_path / "wh")
    ok("bill", "--rules", EXAMPLE / "rules", "--warehouse", wh, "--period", "all")
    billed = json.loads(
        query(
            wh,
            "SELECT period, account, type, quantity FROM invoice_lines WHERE kind = 'usage'",
            "--format",
            "json",
        )
    )
    periods = {r["period"] for r in billed}
    assert periods == {"2026-09", "2026-10", "2026-11"}
    for period in periods:
        part = wh / "rated" / f"period={period}" / "rated.parquet"
        rows = pq.read_table(part).to_pylist()
        assert {r["period"] for r in rows} == {period}
        sums: Counter[tuple[str, str]] = Counter()
        for r in rows:
            sums[(r["subject"], r["type"])] += r["rounded_quantity"]
        lines = {
            (r["account"], r["type"]): Decimal(r["quantity"])
            for r in billed
            if r["period"] == period
        }
        assert lines == dict(sums)
        assert sorted(p.name for p in part.parent.iterdir()) == ["rated.parquet"]


def test_a_failed_bill_leaves_the_previous_partition_and_invoices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import replay

    wh = replay_example(tmp_path / "wh")
    ok("bill", "--rules", EXAMPLE / "rules", "--warehouse", wh, "--period", "2026-10")
    part = wh / "rated" / "period=2026-10" / "rated.parquet"
    before = part.read_bytes()
    invoices = ok("export", "invoices", "--warehouse", wh, "--period", "2026-10").stdout
    # A late impression makes the next bill's records differ; that bill fails before it commits.
    late = tmp_path / "late.jsonl"
    late.write_text(
        '{"specversion": "1.0", "id": "late-1", "source": "adserver-eu1",'
        ' "type": "ad.impression", "time": "2026-10-20T10:00:00Z", "subject": "acme",'
        ' "data": {"campaign": "autumn", "ip": "198.51.165.9", "user_agent": "Mozilla/5.0"}}\n'
    )
    ok("replay", "--quiet", "--rules", EXAMPLE / "rules", "--warehouse", wh, late)
    rated = "SELECT count(*) FROM rated_records WHERE id = 'late-1'"
    assert query(wh, rated, "--format", "csv").splitlines()[1] == "1"

    def broken(*args: object) -> None:
        assert len(list(part.parent.iterdir())) == 2  # the new partition, not yet in place
        raise OSError("disk full")

    monkeypatch.setattr(replay, "store_invoices", broken)
    with pytest.raises(OSError, match="disk full"):
        replay.bill_period(str(EXAMPLE / "rules"), str(wh), "2026-10")
    assert part.read_bytes() == before
    assert sorted(p.name for p in part.parent.iterdir()) == ["rated.parquet"]
    assert ok("export", "invoices", "--warehouse", wh, "--period", "2026-10").stdout == invoices
