"""The compiled rule set: plans, accounts, SLAs and fraud settings as one immutable value.

`rules.load_rules` builds it from a rule directory after validation; the warehouse stores its
canonical JSON (`to_json`) so commands without `--rules` reuse the rule set last recorded.
Money and quantities are `Decimal`, times are aware UTC `datetime`s.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from .fields import USAGE_TYPES as USAGE_TYPES  # one definition; the rule checks use it

MODELS = ("per_unit", "graduated", "volume")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # ISO day 1..7


@dataclass(frozen=True)
class Tier:
    price: Decimal
    up_to: Decimal | None = None  # None: the last, unbounded tier


@dataclass(frozen=True)
class Destination:
    prefix: str
    price: Decimal


@dataclass(frozen=True)
class Peak:
    days: tuple[int, ...]  # ISO weekdays, 1 = Monday
    start: time  # `from`, inclusive, in the plan's time zone
    end: time  # `to`, exclusive


@dataclass(frozen=True)
class Charge:
    type: str
    model: str  # one of MODELS
    price: Decimal | None = None
    per: Decimal = Decimal(1)
    increment: Decimal | None = None
    minimum: Decimal | None = None
    destinations: tuple[Destination, ...] = ()
    peak: Peak | None = None
    off_peak_factor: Decimal | None = None
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True)
class PlanVersion:
    effective_from: datetime
    charges: dict[str, Charge]
    monthly_fee: Decimal | None = None
    minimum_spend: Decimal | None = None


@dataclass(frozen=True)
class Plan:
    name: str
    currency: str
    timezone: str
    versions: tuple[PlanVersion, ...]  # ascending effective_from

    def version_at(self, when: datetime) -> PlanVersion | None:
        """The version in force at `when`: the last one whose effective_from is not after it."""
        found = None
        for v in self.versions:
            if v.effective_from <= when:
                found = v
        return found


@dataclass(frozen=True)
class Account:
    id: str
    plan: str
    tax_rate: Decimal
    sla: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None  # exclusive


@dataclass(frozen=True)
class CreditTier:
    below: Decimal
    percent: Decimal


@dataclass(frozen=True)
class Sla:
    name: str
    service: str
    credits: tuple[CreditTier, ...]
    applies_to: tuple[str, ...]
    probe_failures_to_open: int = 3
    max_credit_percent: Decimal | None = None


@dataclass(frozen=True)
class FraudSettings:
    bot_user_agents: tuple[str, ...]
    attribution_window_s: Decimal
    max_clicks_per_ip_per_minute: int


@dataclass(frozen=True)
class RuleSet:
    plans: dict[str, Plan]
    accounts: dict[str, Account]
    slas: dict[str, Sla]
    fraud: FraudSettings
    source: str = field(default="", compare=False)  # the directory it was loaded from

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, decimals and times as strings): stored in the warehouse."""
        return json.dumps(_encode(self), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> RuleSet:
        return _decode_ruleset(json.loads(text))


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {
            k: _encode(getattr(value, k))
            for k, f in value.__dataclass_fields__.items()
            if f.compare
        }
    return value


def _dec(v: str | None) -> Decimal | None:
    return None if v is None else Decimal(v)


def _ts(v: str | None) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v)


def _decode_charge(d: dict[str, Any]) -> Charge:
    peak = d.get("peak")
    return Charge(
        type=d["type"],
        model=d["model"],
        price=_dec(d.get("price")),
        per=Decimal(d["per"]),
        increment=_dec(d.get("increment")),
        minimum=_dec(d.get("minimum")),
        destinations=tuple(
            Destination(x["prefix"], Decimal(x["price"])) for x in d["destinations"]
        ),
        peak=None
        if peak is None
        else Peak(
            tuple(peak["days"]), time.fromisoformat(peak["start"]), time.fromisoformat(peak["end"])
        ),
        off_peak_factor=_dec(d.get("off_peak_factor")),
        tiers=tuple(Tier(Decimal(t["price"]), _dec(t.get("up_to"))) for t in d["tiers"]),
    )


def _decode_ruleset(d: dict[str, Any]) -> RuleSet:
    plans = {
        name: Plan(
            name=p["name"],
            currency=p["currency"],
            timezone=p["timezone"],
            versions=tuple(
                PlanVersion(
                    effective_from=datetime.fromisoformat(v["effective_from"]),
                    charges={t: _decode_charge(c) for t, c in v["charges"].items()},
                    monthly_fee=_dec(v.get("monthly_fee")),
                    minimum_spend=_dec(v.get("minimum_spend")),
                )
                for v in p["versions"]
            ),
        )
        for name, p in d["plans"].items()
    }
    accounts = {
        k: Account(
            id=a["id"],
            plan=a["plan"],
            tax_rate=Decimal(a["tax_rate"]),
            sla=a.get("sla"),
            valid_from=_ts(a.get("valid_from")),
            valid_to=_ts(a.get("valid_to")),
        )
        for k, a in d["accounts"].items()
    }
    slas = {
        k: Sla(
            name=s["name"],
            service=s["service"],
            credits=tuple(
                CreditTier(Decimal(c["below"]), Decimal(c["percent"])) for c in s["credits"]
            ),
            applies_to=tuple(s["applies_to"]),
            probe_failures_to_open=int(s["probe_failures_to_open"]),
            max_credit_percent=_dec(s.get("max_credit_percent")),
        )
        for k, s in d["slas"].items()
    }
    f = d["fraud"]
    fraud = FraudSettings(
        bot_user_agents=tuple(f["bot_user_agents"]),
        attribution_window_s=Decimal(f["attribution_window_s"]),
        max_clicks_per_ip_per_minute=int(f["max_clicks_per_ip_per_minute"]),
    )
    return RuleSet(plans=plans, accounts=accounts, slas=slas, fraud=fraud)
