"""The per_unit arithmetic in SQL (integer maths over exact price fractions) against the
contract's formula computed with Decimal: amount = q / per * price * factor, half up to 6 places,
where q is the quantity rounded up to a multiple of `increment` and raised to `minimum`."""

from __future__ import annotations

import json
import math
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.replay import replay_files
from pipeline.warehouse import Warehouse


def reference_amount(
    duration: Decimal,
    price: Decimal,
    per: Decimal,
    inc: Decimal | None,
    minimum: Decimal | None,
    factor: Decimal,
) -> tuple[Decimal, Decimal]:
    q = duration
    if inc is not None:
        q = (q / inc).to_integral_value(rounding=ROUND_CEILING) * inc
    if minimum is not None:
        q = max(q, minimum)
    # Evaluated exactly: Decimal's 28-digit division rounds q / per before the product, which
    # can turn an exact half (0.75 / 7 * 0.0158 * 0.35 = 0.0005925) into 0.00059249999...
    exact = Fraction(q) / Fraction(per) * Fraction(price) * Fraction(factor)
    return q, Decimal(math.floor(exact * 10**6 + Fraction(1, 2))).scaleb(-6)


def _rules(root: Path, price: str, per: str, inc: str | None, minimum: str | None) -> None:
    charge: dict[str, object] = {"model": "per_unit", "price": price, "per": per}
    if inc is not None:
        charge["increment"] = inc
    if minimum is not None:
        charge["minimum"] = minimum
    # Peak Monday-Friday 08:00-18:00 UTC, off-peak factor 0.35: both branches get exercised.
    charge["peak"] = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}
    charge["off_peak_factor"] = "0.35"
    (root / "plans").mkdir(parents=True)
    plan = {
        "plan": "p",
        "currency": "EUR",
        "timezone": "UTC",
        "versions": [
            {"effective_from": "2026-01-01T00:00:00Z", "charges": {"telecom.voice": charge}}
        ],
    }
    (root / "plans" / "p.yaml").write_text(json.dumps(plan))
    (root / "accounts.yaml").write_text(
        json.dumps({"accounts": [{"id": "acme", "plan": "p", "tax_rate": "0"}]})
    )
    (root / "fraud.yaml").write_text(
        json.dumps(
            {
                "bot_user_agents": ["bot"],
                "attribution_window_s": 60,
                "max_clicks_per_ip_per_minute": 5,
            }
        )
    )


decimals = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999"), places=4)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    price=decimals,
    per=st.sampled_from(["1", "60", "1000", "1048576", "0.5", "7"]),
    inc=st.sampled_from([None, "1", "6", "60", "0.25"]),
    minimum=st.sampled_from([None, "30", "60", "0.5"]),
    durations=st.lists(
        st.decimals(min_value=Decimal(0), max_value=Decimal(100000), places=3),
        min_size=1,
        max_size=20,
    ),
)
# An exact half at the 6th place off peak (0.75 / 7 * 0.0158 * 0.35 = 0.0005925): up to 0.000593.
@example(
    price=Decimal("0.0158"),
    per="7",
    inc="0.25",
    minimum=None,
    durations=[Decimal("0.000"), Decimal("0.501")],
)
def test_per_unit_amounts_match_the_contract_formula(
    tmp_path_factory,
    price,
    per,
    inc,
    minimum,
    durations,  # type: ignore[no-untyped-def]
) -> None:
    root = tmp_path_factory.mktemp("case")
    _rules(root / "rules", str(price), per, inc, minimum)
    lines = []
    for i, d in enumerate(durations):
        hour = "12" if i % 2 == 0 else "20"  # 2026-10-05 is a Monday: 12:00 peak, 20:00 off
        lines.append(
            json.dumps(
                {
                    "specversion": "1.0",
                    "id": f"v{i}",
                    "source": "msc",
                    "type": "telecom.voice",
                    "time": f"2026-10-05T{hour}:00:00Z",
                    "subject": "acme",
                    "data": {
                        "subscriber": "s",
                        "destination": "+48",
                        "duration_s": float(d) if d != d.to_integral_value() else int(d),
                    },
                }
            )
        )
    events = root / "e.jsonl"
    events.write_text("\n".join(lines) + "\n")
    replay_files(str(root / "rules"), str(root / "wh"), [str(events)], progress=False)
    with Warehouse.open(root / "wh") as wh:
        got = dict(
            (r[0], (r[1], r[2]))
            for r in wh.con.execute(
                "SELECT id, rounded_quantity, amount FROM rated_records"
            ).fetchall()
        )
    for i, d in enumerate(durations):
        factor = Decimal(1) if i % 2 == 0 else Decimal("0.35")
        # the JSON text of the duration is what the pipeline reads
        seen = Decimal(json.loads(lines[i])["data"]["duration_s"].__repr__())
        q, amount = reference_amount(
            seen,
            price,
            Decimal(per),
            None if inc is None else Decimal(inc),
            None if minimum is None else Decimal(minimum),
            factor,
        )
        assert got[f"v{i}"] == (q, amount), (d, price, per, inc, minimum)
