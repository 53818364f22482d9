"""Builders for hand-computed contract scenarios: a rule directory, events and JSON Lines files
(shared by the contract edge-case tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FRAUD = "bot_user_agents:\n- bot\nattribution_window_s: 3600\nmax_clicks_per_ip_per_minute: 5\n"
T0 = "2026-01-01T00:00:00Z"


def write_rules(
    root: Path, plans: dict[str, str], accounts: str, slas: str | None = None, fraud: str = FRAUD
) -> Path:
    """`root/rules` with one file per plan, the accounts, fraud settings and optional SLAs."""
    rules = root / "rules"
    (rules / "plans").mkdir(parents=True)
    for name, text in plans.items():
        (rules / "plans" / f"{name}.yaml").write_text(text, encoding="utf-8")
    (rules / "accounts.yaml").write_text(accounts, encoding="utf-8")
    (rules / "fraud.yaml").write_text(fraud, encoding="utf-8")
    if slas is not None:
        (rules / "slas.yaml").write_text(slas, encoding="utf-8")
    return rules


def event(
    id_: str,
    type_: str,
    time: str,
    data: dict[str, Any],
    subject: str | None = None,
    source: str = "s",
) -> dict[str, Any]:
    """A CloudEvents record; `subject` left out when None (quality records have none)."""
    e: dict[str, Any] = {
        "specversion": "1.0",
        "id": id_,
        "source": source,
        "type": type_,
        "time": time,
    }
    if subject is not None:
        e["subject"] = subject
    e["data"] = data
    return e


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def plan_yaml(name: str, charges: str, versions: list[tuple[str, str]] | None = None) -> str:
    """A plan in EUR, UTC; one version from T0 with `charges` unless `versions` (head, charges)
    are given."""
    text = f"plan: {name}\ncurrency: EUR\ntimezone: UTC\nversions:\n"
    for head, ch in versions or [(f"- effective_from: '{T0}'\n", charges)]:
        text += head + "  charges:\n" + ch
    return text
