"""A human-readable summary of a warehouse, for operators and the quick start: outcome counts,
invoice totals per period and currency, and the top fraud reasons."""

from __future__ import annotations

import duckdb

from .exports import money, reconcile


def summarize(con: duckdb.DuckDBPyConnection) -> str:
    counts = reconcile(con)
    lines = [f"records in: {counts['input']}"]
    for outcome in ("rated", "invalid", "unbilled", "quality", "duplicate", "rejected"):
        value = counts[outcome]
        if isinstance(value, dict):
            detail = ", ".join(f"{r} {n}" for r, n in sorted(value.items(), key=lambda x: -x[1]))
            lines.append(
                f"  {outcome:<10} {sum(value.values()):>10}" + (f"  ({detail})" if detail else "")
            )
        else:
            lines.append(f"  {outcome:<10} {value:>10}")
    totals = con.execute(
        "SELECT period, currency, count(*), sum(total) FROM invoices GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    lines.append("invoices:" if totals else "invoices: none billed yet (run `pipeline bill`)")
    lines += [f"  {p} {cur}: {n} invoice(s), total {money(t)}" for p, cur, n, t in totals]
    top = con.execute(
        "SELECT reason, count(*) AS n FROM fraud_flags WHERE status <> 'dismissed'"
        " GROUP BY reason ORDER BY n DESC, reason LIMIT 5"
    ).fetchall()
    lines.append("top fraud reasons:" if top else "top fraud reasons: none")
    lines += [f"  {reason:<16} {n:>8}" for reason, n in top]
    return "\n".join(lines)


def usage_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every period holding at least one usage record, ascending."""
    return [r[0] for r in con.execute("SELECT DISTINCT period FROM usage ORDER BY 1").fetchall()]
