"""Load and validate a rule directory into one immutable `RuleSet` (contract section 3).

Each file is read and checked against its JSON Schema first (`rule_checks.read_rule_file`);
this module then builds the frozen dataclasses of `ruleset.py`, checking what a schema cannot:
decimals within their scale and bounds, which keys each `model` allows, tier and version order,
peak windows, time zones, and references between files. The first problem stops the load with a
`RuleError(file, path, problem)`: nothing is ever rated with half-loaded rules.

Layout: `plans/*.yaml` (one plan each, at least one), `accounts.yaml` and `fraud.yaml`
(required), `slas.yaml` (optional). Files are read in sorted order so the same directory always
gives the same first error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import RuleError
from pipeline.rule_checks import (
    END_OF_DAY,
    PERCENT,
    POSITIVE_QUANTITY,
    PRICE,
    QUANTITY,
    WINDOW,
    Where,
    clock,
    number,
    optional_number,
    read_rule_file,
    show,
    show_time,
    timestamp,
)
from pipeline.ruleset import (
    WEEKDAYS,
    Account,
    Charge,
    CreditTier,
    Destination,
    FraudSettings,
    Peak,
    Plan,
    PlanVersion,
    RuleSet,
    Sla,
    Tier,
)

PLANS, ACCOUNTS, SLAS, FRAUD = "plans", "accounts.yaml", "slas.yaml", "fraud.yaml"
PER_UNIT_ONLY = ("destinations", "peak", "off_peak_factor", "price")


def load_rules(directory: str | Path) -> RuleSet:
    """Load, validate and compile the rule directory; raise RuleError on the first problem."""
    layout = _layout(Path(directory))
    plans = _load_plans(layout.plans)
    slas = _load_slas(layout.slas) if layout.slas else {}
    accounts = _load_accounts(layout.accounts, plans, slas)
    fraud = _load_fraud(layout.fraud)
    return RuleSet(plans=plans, accounts=accounts, slas=slas, fraud=fraud, source=str(directory))


# --- the directory -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    plans: tuple[Path, ...]
    accounts: Path
    slas: Path | None
    fraud: Path


def _layout(root: Path) -> _Layout:
    """Which files make up the rule set; missing and misnamed files fail before any is read."""
    if not root.is_dir():
        problem = "is not a directory" if root.exists() else "rule directory not found"
        raise RuleError(str(root), "", problem)
    _reject_unknown_files(root)
    slas = root / SLAS
    return _Layout(
        plans=_plan_files(root / PLANS),
        accounts=_required(root / ACCOUNTS),
        slas=slas if slas.exists() else None,
        fraud=_required(root / FRAUD),
    )


def _reject_unknown_files(root: Path) -> None:
    # A typo (`sla.yaml`, `accounts.yml`) would otherwise silently drop a whole file of rules.
    known = {ACCOUNTS, SLAS, FRAUD}
    for path in sorted(root.iterdir()):
        if path.suffix in (".yaml", ".yml") and path.name not in known:
            raise RuleError(
                str(path),
                "",
                "unknown rule file; expected accounts.yaml, fraud.yaml, "
                "slas.yaml (optional) and plans/*.yaml",
            )


def _required(path: Path) -> Path:
    if not path.is_file():
        raise RuleError(str(path), "", "required rule file not found")
    return path


def _plan_files(folder: Path) -> tuple[Path, ...]:
    if not folder.is_dir():
        raise RuleError(str(folder), "", "plan directory not found; put each plan in plans/*.yaml")
    for path in sorted(folder.glob("*.yml")):
        raise RuleError(str(path), "", "plan files end in .yaml; rename it")
    files = tuple(p for p in sorted(folder.glob("*.yaml")) if p.is_file())
    if not files:
        raise RuleError(str(folder), "", "no plan files; at least one plans/*.yaml is required")
    return files


# --- plans ---------------------------------------------------------------------------------


def _load_plans(files: tuple[Path, ...]) -> dict[str, Plan]:
    """Every plan file, by name; two files may not declare the same plan."""
    plans: dict[str, Plan] = {}
    defined_in: dict[str, str] = {}
    for file in files:
        where = Where(str(file))
        plan = _plan(read_rule_file(file, "plan"), where)
        if plan.name in plans:
            where.at("plan").fail(
                f"plan `{plan.name}` is already defined in {defined_in[plan.name]}"
            )
        plans[plan.name] = plan
        defined_in[plan.name] = where.file
    return plans


def _plan(doc: dict[str, Any], where: Where) -> Plan:
    """One plan file; its time zone must exist because peak windows are judged in it."""
    _check_zone(doc["timezone"], where.at("timezone"))
    at = where.at("versions")
    versions = [_version(v, at.at(i)) for i, v in enumerate(doc["versions"])]
    return Plan(doc["plan"], doc["currency"], doc["timezone"], _in_order(versions, at))


def _check_zone(name: str, where: Where) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        where.fail(
            f"unknown time zone `{name}`; expected an IANA name such as Europe/Warsaw or UTC"
        )


def _in_order(versions: list[PlanVersion], where: Where) -> tuple[PlanVersion, ...]:
    """Versions by effective_from, as `Plan.version_at` needs; they may be written in any order,
    but two on one date would leave the version in force ambiguous."""
    order = sorted(range(len(versions)), key=lambda i: versions[i].effective_from)
    for before, after in zip(order, order[1:], strict=False):
        when = versions[after].effective_from
        if when == versions[before].effective_from:
            first, second = sorted((before, after))
            where.at(second).at("effective_from").fail(
                f"{show_time(when)} is also the effective_from of versions[{first}]"
            )
    return tuple(versions[i] for i in order)


def _version(doc: dict[str, Any], where: Where) -> PlanVersion:
    at = where.at("charges")
    return PlanVersion(
        effective_from=timestamp(doc["effective_from"], where.at("effective_from")),
        charges={t: _charge(t, c, at.at(t)) for t, c in doc["charges"].items()},
        monthly_fee=optional_number(doc, "monthly_fee", where, PRICE),
        minimum_spend=optional_number(doc, "minimum_spend", where, PRICE),
    )


# --- charges -------------------------------------------------------------------------------


def _charge(usage_type: str, doc: dict[str, Any], where: Where) -> Charge:
    """One charge; keys of another model are errors, since they would silently not apply."""
    model = doc["model"]
    if model == "per_unit":
        _check_per_unit_keys(doc, where)
    else:
        _check_tiered_keys(model, doc, where)
    return Charge(
        type=usage_type,
        model=model,
        price=optional_number(doc, "price", where, PRICE),
        per=number(doc.get("per", 1), where.at("per"), POSITIVE_QUANTITY),
        increment=optional_number(doc, "increment", where, POSITIVE_QUANTITY),
        minimum=optional_number(doc, "minimum", where, QUANTITY),
        destinations=_destinations(doc.get("destinations", []), where.at("destinations")),
        peak=_peak(doc["peak"], where.at("peak")) if "peak" in doc else None,
        off_peak_factor=optional_number(doc, "off_peak_factor", where, PRICE),
        tiers=_tiers(doc.get("tiers", []), where.at("tiers")),
    )


def _check_per_unit_keys(doc: dict[str, Any], where: Where) -> None:
    if "tiers" in doc:
        where.at("tiers").fail("`tiers` is only allowed with graduated or volume, not per_unit")
    if "price" not in doc and "destinations" not in doc:
        where.fail("a per_unit charge needs `price` (or `destinations`)")
    if "peak" in doc and "off_peak_factor" not in doc:
        where.fail("`peak` needs `off_peak_factor`, the price factor outside the peak window")
    if "off_peak_factor" in doc and "peak" not in doc:
        where.at("off_peak_factor").fail("`off_peak_factor` has no effect without `peak`")


def _check_tiered_keys(model: str, doc: dict[str, Any], where: Where) -> None:
    for key in PER_UNIT_ONLY:
        if key in doc:
            where.at(key).fail(f"`{key}` is only allowed with per_unit, not {model}")
    if "tiers" not in doc:
        where.fail(f"a {model} charge needs `tiers`")


def _destinations(items: list[dict[str, Any]], where: Where) -> tuple[Destination, ...]:
    """Prefixes must be distinct: with two equal ones the longest match would be ambiguous."""
    seen: dict[str, int] = {}
    result = []
    for i, item in enumerate(items):
        prefix = item["prefix"]
        if prefix in seen:
            where.at(i).at("prefix").fail(f"{show(prefix)} is also the prefix of [{seen[prefix]}]")
        seen[prefix] = i
        result.append(Destination(prefix, number(item["price"], where.at(i).at("price"), PRICE)))
    return tuple(result)


def _peak(doc: dict[str, Any], where: Where) -> Peak:
    """The window is within one day: `from` before `to`; "24:00" (only as `to`) ends the day
    and is stored as `time(0, 0)`, which as an end can mean nothing else."""
    start = clock(doc["from"], where.at("from"))
    end = clock(doc["to"], where.at("to"))
    if start == END_OF_DAY:
        where.at("from").fail('"24:00" is the end of a day; `from` must be "00:00" to "23:59"')
    if end <= start:
        where.at("to").fail(
            f"{show(doc['to'])} is not after `from` {show(doc['from'])}; a peak window cannot "
            'pass midnight (write "24:00" for the end of the day)'
        )
    days = tuple(WEEKDAYS.index(d) + 1 for d in doc["days"])
    return Peak(days=days, start=_time(start), end=_time(end % END_OF_DAY))


def _time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _tiers(items: list[dict[str, Any]], where: Where) -> tuple[Tier, ...]:
    """Tiers ascend strictly by `up_to`; the last, and only it, is unbounded."""
    tiers: list[Tier] = []
    previous = Decimal(0)
    for i, item in enumerate(items):
        at = where.at(i)
        price = number(item["price"], at.at("price"), PRICE)
        up_to = _up_to(item, at, last=i == len(items) - 1)
        if up_to is not None and i > 0 and up_to <= previous:
            at.at("up_to").fail(
                f"{show(item['up_to'])} must be above the previous tier's up_to {previous}"
            )
        tiers.append(Tier(price=price, up_to=up_to))
        previous = up_to if up_to is not None else previous
    return tuple(tiers)


def _up_to(item: dict[str, Any], where: Where, last: bool) -> Decimal | None:
    if last and "up_to" in item:
        where.at("up_to").fail("the last tier must not have `up_to`: it covers every unit above")
    if not last and "up_to" not in item:
        where.fail("only the last tier may leave out `up_to`")
    return optional_number(item, "up_to", where, POSITIVE_QUANTITY)


# --- SLAs, accounts, fraud -----------------------------------------------------------------


def _load_slas(file: Path) -> dict[str, Sla]:
    """SLAs by name; the YAML mapping's keys are the names accounts refer to."""
    where = Where(str(file)).at("slas")
    slas = read_rule_file(file, "slas")["slas"]
    return {name: _sla(name, doc, where.at(name)) for name, doc in slas.items()}


def _sla(name: str, doc: dict[str, Any], where: Where) -> Sla:
    return Sla(
        name=name,
        service=doc["service"],
        credits=_credits(doc["credits"], where.at("credits")),
        applies_to=tuple(doc["applies_to"]),
        probe_failures_to_open=doc.get("probe_failures_to_open", 3),
        max_credit_percent=optional_number(doc, "max_credit_percent", where, PERCENT),
    )


def _credits(items: list[dict[str, Any]], where: Where) -> tuple[CreditTier, ...]:
    """Kept in the order written; `below` values are distinct so the winning tier is unique."""
    credits: list[CreditTier] = []
    for i, item in enumerate(items):
        below = number(item["below"], where.at(i).at("below"), PERCENT)
        percent = number(item["percent"], where.at(i).at("percent"), PERCENT)
        for j, other in enumerate(credits):
            if other.below == below:
                where.at(i).at("below").fail(f"{show(item['below'])} is also the below of [{j}]")
        credits.append(CreditTier(below=below, percent=percent))
    return tuple(credits)


def _load_accounts(file: Path, plans: dict[str, Plan], slas: dict[str, Sla]) -> dict[str, Account]:
    """Accounts by id: ids are unique, since an event's subject must name one account."""
    where = Where(str(file)).at("accounts")
    accounts: dict[str, Account] = {}
    index: dict[str, int] = {}
    for i, doc in enumerate(read_rule_file(file, "accounts")["accounts"]):
        if doc["id"] in accounts:
            where.at(i).at("id").fail(f"account `{doc['id']}` is also accounts[{index[doc['id']]}]")
        accounts[doc["id"]], index[doc["id"]] = _account(doc, where.at(i), plans, slas), i
    return accounts


def _account(
    doc: dict[str, Any], where: Where, plans: dict[str, Plan], slas: dict[str, Sla]
) -> Account:
    """One account; its plan and SLA must exist, and its contract must not end before it starts."""
    _check_reference(doc["plan"], plans, "plan", where.at("plan"))
    if "sla" in doc:
        _check_reference(doc["sla"], slas, "SLA", where.at("sla"))
    valid_from = _optional_time(doc, "valid_from", where)
    valid_to = _optional_time(doc, "valid_to", where)
    if valid_from and valid_to and valid_to <= valid_from:
        where.at("valid_to").fail(
            f"{show_time(valid_to)} is not after valid_from {show_time(valid_from)}"
        )
    tax_rate = number(doc["tax_rate"], where.at("tax_rate"), PRICE)
    return Account(doc["id"], doc["plan"], tax_rate, doc.get("sla"), valid_from, valid_to)


def _check_reference(name: str, known: dict[str, Any], what: str, where: Where) -> None:
    """A name from another file must exist; list the known ones, as a user fixing it needs."""
    if name in known:
        return
    if not known:
        where.fail(f"unknown {what} `{name}`; no {what}s are defined")
    where.fail(f"unknown {what} `{name}`; known {what}s: {', '.join(sorted(known))}")


def _optional_time(doc: dict[str, Any], key: str, where: Where) -> datetime | None:
    return timestamp(doc[key], where.at(key)) if key in doc else None


def _load_fraud(file: Path) -> FraudSettings:
    """Thresholds of the fraud rules (contract 2.4); the schema bounds the integer one."""
    doc = read_rule_file(file, "fraud")
    window = number(doc["attribution_window_s"], Where(str(file), "attribution_window_s"), WINDOW)
    return FraudSettings(
        bot_user_agents=tuple(doc["bot_user_agents"]),
        attribution_window_s=window,
        max_clicks_per_ip_per_minute=doc["max_clicks_per_ip_per_minute"],
    )
