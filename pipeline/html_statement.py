"""The advertiser's statement as one self-contained HTML page (`export statement --format html`).

The campaign table shows exactly the numbers of the JSON statement (it is built from
`exports.statement`), and a bar chart shows billable against invalid clicks per UTC day.
Everything is inline -- CSS, SVG, no script, font or image from elsewhere -- because the page
is opened on machines without network access, and the Content-Security-Policy says so to the
browser too. Nothing time-dependent is printed, so the page is byte-identical while nothing
it depends on has changed, like every export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Any

import duckdb

from . import exports
from .invoice import period_bounds
from .ruleset import RuleSet

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

REASON_TEXT = {
    "bot_user_agent": "the browser identified itself as a bot or crawler",
    "orphan_click": "no impression of the ad was shown before the click, within the"
    " attribution window",
    "duplicate_click": "a repeated click on an impression that already had a counted click",
    "ip_velocity": "one of too many clicks from one IP address within one minute",
}


@dataclass(frozen=True)
class DayClicks:
    day: date
    billable: int
    invalid: int


DAILY_SQL = """
SELECT CAST(time AS DATE) AS day,
       count(*) FILTER (outcome = 'rated') AS billable,
       count(*) FILTER (outcome = 'invalid') AS invalid
FROM usage_outcomes
WHERE type = 'ad.click' AND subject = $account AND period = $period
GROUP BY day ORDER BY day
"""


def daily_clicks(con: duckdb.DuckDBPyConnection, account: str, period: str) -> list[DayClicks]:
    """Billable (rated) and invalid clicks of every UTC day of the period, zero days included.
    `time` is UTC in the warehouse, so its date is the UTC day."""
    start, end = period_bounds(period)
    counts = {
        day: (billable, invalid)
        for day, billable, invalid in con.execute(
            DAILY_SQL, {"account": account, "period": period}
        ).fetchall()
    }
    days = [start.date() + timedelta(n) for n in range((end - start).days)]
    return [DayClicks(d, *counts.get(d, (0, 0))) for d in days]


def statement_html(
    con: duckdb.DuckDBPyConnection, rules: RuleSet, account: str, period: str
) -> str:
    """The whole page for one account and period."""
    statement = exports.statement(con, rules, account, period)
    return render(statement, daily_clicks(con, account, period))


def render(statement: dict[str, Any], days: list[DayClicks]) -> str:
    account, period = statement["account"], statement["period"]
    year, month = (int(p) for p in period.split("-"))
    title = f"Statement {account} {period}"
    return PAGE.format(
        title=escape(title),
        css=CSS,
        account=escape(account),
        period=escape(period),
        month=f"{MONTHS[month - 1]} {year}",
        currency=escape(statement["currency"]),
        cards=_cards(statement, days),
        chart=_chart(days),
        table=_table(statement),
        reasons=_reasons(statement),
    )


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header>
<h1>Click and impression statement</h1>
<dl class="meta">
<div><dt>Account</dt><dd id="account">{account}</dd></div>
<div><dt>Period</dt><dd id="period">{period}</dd><dd class="sub">{month}, UTC</dd></div>
<div><dt>Currency</dt><dd id="currency">{currency}</dd></div>
</dl>
</header>
<main>
{cards}
<section>
<h2>Clicks per day</h2>
<p class="legend"><span class="swatch billable"></span>Billable
<span class="swatch invalid"></span>Invalid (never charged)</p>
{chart}
</section>
<section>
<h2>Campaigns</h2>
{table}
{reasons}
</section>
</main>
<footer>
<p>Amounts are the per-unit charges of each campaign's billable clicks and impressions, rounded
to 2 decimals. Invalid clicks and impressions are never charged. Monthly fees, minimum spend,
service credits and tax appear on the invoice. Days are calendar days in UTC.</p>
</footer>
</body>
</html>
"""

CSS = """
:root { --billable: #2563eb; --invalid: #e4572e; --ink: #1f2933; --muted: #616e7c;
        --rule: #d9dee4; --band: #f4f6f8; }
* { box-sizing: border-box; }
header, main, footer { max-width: 1100px; }
body { margin: 0; padding: 28px 36px; color: var(--ink); background: #fff;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans",
       "DejaVu Sans", Arial, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: flex-end; justify-content: space-between;
         gap: 16px; border-bottom: 2px solid var(--ink); padding-bottom: 12px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 16px; margin: 28px 0 8px; }
dl.meta { display: flex; gap: 32px; margin: 0; }
dl.meta dt { font-size: 11px; text-transform: uppercase; letter-spacing: .06em;
             color: var(--muted); }
dl.meta dd { margin: 0; font-size: 18px; font-weight: 600; }
dl.meta dd.sub { font-size: 12px; font-weight: 400; color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 20px; }
.card { border: 1px solid var(--rule); border-radius: 6px; padding: 10px 16px; min-width: 150px; }
.card .label { font-size: 12px; color: var(--muted); }
.card .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card.billable { border-left: 5px solid var(--billable); }
.card.invalid { border-left: 5px solid var(--invalid); }
.legend { margin: 0 0 6px; color: var(--muted); }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
          vertical-align: -1px; margin: 0 6px 0 0; }
.swatch.invalid { margin-left: 18px; }
.billable { --c: var(--billable); } .invalid { --c: var(--invalid); }
.swatch { background: var(--c); }
svg.chart { display: block; width: 100%; height: auto; max-width: 1100px; }
svg.chart text { font-size: 11px; fill: var(--muted); }
svg.chart rect.billable { fill: var(--billable); }
svg.chart rect.invalid { fill: var(--invalid); }
svg.chart rect.weekend { fill: var(--band); }
svg.chart line.grid { stroke: var(--rule); }
svg.chart line.axis { stroke: var(--muted); }
table { border-collapse: collapse; width: 100%; max-width: 1100px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--rule); text-align: left; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td .why { display: block; font-size: 11px; color: var(--muted); }
tbody tr:nth-child(even) { background: var(--band); }
p.empty { color: var(--muted); font-style: italic; }
dl.reasons { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px;
             font-size: 12px; color: var(--muted); }
dl.reasons dt { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; }
dl.reasons dd { margin: 0; }
footer { margin-top: 28px; font-size: 12px; color: var(--muted); }
@media print { body { padding: 0; } }
"""


def _cards(statement: dict[str, Any], days: list[DayClicks]) -> str:
    campaigns = statement["campaigns"]
    figures = [
        ("", "Impressions", sum(c["impressions"] for c in campaigns)),
        ("", "Clicks", sum(c["clicks"] for c in campaigns)),
        ("billable", "Billable clicks", sum(d.billable for d in days)),
        ("invalid", "Invalid clicks", sum(d.invalid for d in days)),
    ]
    cards = "".join(
        f'<div class="card {cls}"><div class="label">{label}</div>'
        f'<div class="value">{value}</div></div>'
        for cls, label, value in figures
    )
    return f'<section class="cards">{cards}</section>'


def _table(statement: dict[str, Any]) -> str:
    campaigns = statement["campaigns"]
    if not campaigns:
        return '<p class="empty">No clicks or impressions in this period.</p>'
    currency = escape(statement["currency"])
    head = (
        "<tr><th>Campaign</th><th class=num>Impressions</th><th class=num>Invalid impressions</th>"
        "<th class=num>Clicks</th><th class=num>Invalid clicks</th>"
        f"<th class=num>Billable clicks</th><th class=num>Amount ({currency})</th></tr>"
    )
    rows = "\n".join(_campaign_row(c) for c in campaigns)
    return f'<table id="campaigns">\n<thead>{head}</thead>\n<tbody>\n{rows}\n</tbody>\n</table>'


def _campaign_row(c: dict[str, Any]) -> str:
    invalid: dict[str, int] = c["invalid_clicks"]
    why = ", ".join(f"{escape(r)} {n}" for r, n in invalid.items())
    invalid_cell = f"{sum(invalid.values())}" + (f'<span class="why">{why}</span>' if why else "")
    cells = [
        f"<td>{escape(c['campaign'])}</td>",
        f"<td class=num>{c['impressions']}</td>",
        f"<td class=num>{c['invalid_impressions']}</td>",
        f"<td class=num>{c['clicks']}</td>",
        f"<td class=num>{invalid_cell}</td>",
        f"<td class=num>{c['billable_clicks']}</td>",
        f"<td class=num>{escape(c['amount'])}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _reasons(statement: dict[str, Any]) -> str:
    seen = sorted({r for c in statement["campaigns"] for r in c["invalid_clicks"]})
    if not seen:
        return ""
    items = "".join(f"<dt>{escape(r)}</dt><dd>{escape(REASON_TEXT.get(r, r))}</dd>" for r in seen)
    return f'<dl class="reasons">{items}</dl>'


# Chart geometry, in SVG user units (the SVG scales to the page width).
WIDTH, HEIGHT = 1100, 300
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 34


def _chart(days: list[DayClicks]) -> str:
    top = max([d.billable for d in days] + [d.invalid for d in days] + [0])
    step, ymax = _scale(top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(days)

    def y(v: int) -> float:
        return TOP + plot_h - v / ymax * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="Billable and invalid clicks per day">'
    ]
    for i, d in enumerate(days):
        if d.day.weekday() >= 5:  # weekends shaded: traffic patterns follow the week
            parts.append(
                f'<rect class="weekend" x="{LEFT + i * slot:.1f}" y="{TOP}"'
                f' width="{slot:.1f}" height="{plot_h}"/>'
            )
    for v in range(0, ymax + 1, step):
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>'
        )
    bar = slot * 0.36
    for i, d in enumerate(days):
        x0 = LEFT + i * slot + (slot - 2 * bar) / 2
        parts.append(
            f'<g class="day" data-day="{d.day.isoformat()}" data-billable="{d.billable}"'
            f' data-invalid="{d.invalid}"><title>{d.day.isoformat()}: {d.billable} billable,'
            f" {d.invalid} invalid</title>"
            + _bar("billable", x0, bar, d.billable, y)
            + _bar("invalid", x0 + bar, bar, d.invalid, y)
            + f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - BOTTOM + 16}"'
            f' text-anchor="middle">{d.day.day}</text></g>'
        )
    base = TOP + plot_h
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>')
    if top == 0:
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle">'
            "No clicks in this period</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(cls: str, x: float, width: float, value: int, y: Any) -> str:
    if value == 0:
        return ""
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{y(value):.1f}" width="{width:.1f}"'
        f' height="{y(0) - y(value):.1f}"/>'
    )


def _scale(top: int) -> tuple[int, int]:
    """A y axis step of 1, 2 or 5 times a power of ten giving at most 5 gridlines above zero,
    and the axis top: the smallest multiple of the step at or above the highest bar."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if top <= 5 * step * m:
                s = step * m
                return s, max(s, -(-top // s) * s)
        step *= 10
