"""The rule loader: every validation rule with its exact RuleError, the default rule set, and
the canonical JSON round trip.

Each case writes a small valid rule directory into `tmp_path/rules`, applies one edit and loads
it as the relative path `rules`, so the expected file names read exactly as a user sees them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.errors import RuleError
from pipeline.rules import load_rules
from pipeline.ruleset import MODELS, USAGE_TYPES, WEEKDAYS, Peak, RuleSet

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas" / "rules"

CLICK = 'ad.click: {model: per_unit, price: "0.35"}'
PLAN = f"""\
plan: ads
currency: EUR
timezone: Europe/Warsaw
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    monthly_fee: "50.00"
    charges:
      {CLICK}
"""
ACCOUNTS = """\
accounts:
  - {id: acme, plan: ads, tax_rate: "23", sla: gold}
  - {id: hooli, plan: ads, tax_rate: "0", valid_from: "2026-01-01T00:00:00Z"}
"""
SLAS = """\
slas:
  gold:
    service: portal
    credits:
      - {below: "99.9", percent: "10"}
      - {below: "99.0", percent: "25"}
    applies_to: [ad.click]
"""
FRAUD = """\
bot_user_agents: [bot, crawler]
attribution_window_s: 3600
max_clicks_per_ip_per_minute: 5
"""
FILES = {"plans/ads.yaml": PLAN, "accounts.yaml": ACCOUNTS, "slas.yaml": SLAS, "fraud.yaml": FRAUD}

VOICE = """telecom.voice:
        model: per_unit
        price: "0.10"
        peak: {days: [mon, tue], from: "08:00", to: "18:00"}
        off_peak_factor: "0.5\""""
DATA = """telecom.data:
        model: graduated
        tiers:
          - {up_to: 100, price: "0"}
          - {up_to: 200, price: "0.02"}
          - {price: "0.01"}"""
SECOND_VERSION = """
  - effective_from: "2026-06-01T00:00:00Z"
    charges:
      ad.click: {model: per_unit, price: "0.40"}
"""


def write_rules(root: Path, edits: dict[str, str | None | tuple[str, str]]) -> None:
    """The valid rule set with `edits`: a file's new text, None to delete it, or (old, new)."""
    files: dict[str, str | None] = dict(FILES)
    for name, edit in edits.items():
        if isinstance(edit, tuple):
            assert edit[0] in (files[name] or ""), f"{edit[0]!r} not in {name}"
            files[name] = (files[name] or "").replace(edit[0], edit[1], 1)
        else:
            files[name] = edit
    for name, text in files.items():
        if text is not None:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return Path("rules")


def charge(text: str) -> tuple[str, str]:
    """An edit of the plan file that replaces its one charge with `text`."""
    return (CLICK, text)


# (id, edits, file, path, problem): one case per validation rule.
CASES = [
    # --- the directory ---
    (
        "missing-accounts",
        {"accounts.yaml": None},
        "rules/accounts.yaml",
        "",
        "required rule file not found",
    ),
    ("missing-fraud", {"fraud.yaml": None}, "rules/fraud.yaml", "", "required rule file not found"),
    (
        "missing-plan-dir",
        {"plans/ads.yaml": None},
        "rules/plans",
        "",
        "plan directory not found; put each plan in plans/*.yaml",
    ),
    (
        "yml-plan",
        {"plans/x.yml": PLAN},
        "rules/plans/x.yml",
        "",
        "plan files end in .yaml; rename it",
    ),
    (
        "unknown-file",
        {"sla.yaml": SLAS},
        "rules/sla.yaml",
        "",
        "unknown rule file; expected accounts.yaml, fraud.yaml, slas.yaml (optional) and "
        "plans/*.yaml",
    ),
    # --- YAML ---
    (
        "yaml-syntax",
        {"fraud.yaml": "bot_user_agents: [bot\nattribution_window_s: 1\n"},
        "rules/fraud.yaml",
        "",
        "invalid YAML at line 2: expected ',' or ']', but got ':'",
    ),
    (
        "empty-file",
        {"fraud.yaml": "# nothing\n"},
        "rules/fraud.yaml",
        "",
        "file is empty; expected a mapping",
    ),
    (
        "not-a-mapping",
        {"fraud.yaml": "- bot\n"},
        "rules/fraud.yaml",
        "",
        "expected a mapping at the top of the file, found a list",
    ),
    (
        "duplicate-key",
        {"plans/ads.yaml": charge(f"{CLICK}\n      {CLICK}")},
        "rules/plans/ads.yaml",
        "versions[0].charges",
        "key `ad.click` appears twice (lines 8 and 9)",
    ),
    (
        "non-string-key",
        {"fraud.yaml": FRAUD + "1: x\n"},
        "rules/fraud.yaml",
        "",
        'key 1 is not a string (quote it: "1")',
    ),
    (
        "yaml-impossible-date",
        {"plans/ads.yaml": ('"2026-01-01T00:00:00Z"', "2026-02-30T00:00:00Z")},
        "rules/plans/ads.yaml",
        "versions[0].effective_from",
        "2026-02-30T00:00:00Z is not a real date and time",
    ),
    # --- shape (the schema) ---
    (
        "required-key",
        {"plans/ads.yaml": ("currency: EUR\n", "")},
        "rules/plans/ads.yaml",
        "",
        "missing required key `currency`",
    ),
    (
        "unknown-key",
        {"plans/ads.yaml": charge('ad.click: {model: per_unit, prise: "0.35"}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click",
        "unknown key `prise`; expected one of model, price, per, increment, minimum, destinations, "
        "peak, off_peak_factor, tiers",
    ),
    (
        "wrong-container",
        {"plans/ads.yaml": PLAN.split("versions:")[0] + "versions: {a: 1}\n"},
        "rules/plans/ads.yaml",
        "versions",
        "expected a list, found a mapping",
    ),
    (
        "no-value",
        {"plans/ads.yaml": ('monthly_fee: "50.00"', "monthly_fee:")},
        "rules/plans/ads.yaml",
        "versions[0].monthly_fee",
        "has no value; give one or remove the key",
    ),
    (
        "unknown-model",
        {"plans/ads.yaml": charge('ad.click: {model: flat, price: "0.35"}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.model",
        "unknown model `flat`; expected one of per_unit, graduated, volume",
    ),
    (
        "unknown-usage-type",
        {"plans/ads.yaml": charge('ad.view: {model: per_unit, price: "1"}')},
        "rules/plans/ads.yaml",
        "versions[0].charges",
        "unknown usage type `ad.view`; expected one of ad.click, ad.impression, telecom.data, "
        "telecom.sms, telecom.voice",
    ),
    (
        "no-versions",
        {"plans/ads.yaml": "plan: ads\ncurrency: EUR\ntimezone: UTC\nversions: []\n"},
        "rules/plans/ads.yaml",
        "versions",
        "must not be empty",
    ),
    (
        "version-not-mapping",
        {"plans/ads.yaml": ("  - effective_from", "  - 7\n  - effective_from")},
        "rules/plans/ads.yaml",
        "versions[0]",
        "7 is not a mapping",
    ),
    # --- decimals ---
    (
        "not-a-decimal",
        {"plans/ads.yaml": PLAN + SECOND_VERSION.replace('"0.40"', '"abc"')},
        "rules/plans/ads.yaml",
        "versions[1].charges.ad.click.price",
        '"abc" is not a decimal',
    ),
    (
        "float-price",
        {"plans/ads.yaml": charge("ad.click: {model: per_unit, price: 0.35}")},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.price",
        '0.35 is not a decimal string (quote it: "0.35")',
    ),
    (
        "price-places",
        {"plans/ads.yaml": charge('ad.click: {model: per_unit, price: "0.1234567890123"}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.price",
        '"0.1234567890123" has more than 12 decimal places',
    ),
    (
        "quantity-places",
        {"plans/ads.yaml": charge('ad.click: {model: per_unit, price: "1", per: "0.0000000001"}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.per",
        '"0.0000000001" has more than 9 decimal places',
    ),
    (
        "negative-price",
        {"plans/ads.yaml": charge('ad.click: {model: per_unit, price: "-0.35"}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.price",
        '"-0.35" must be >= 0',
    ),
    (
        "negative-fee",
        {"plans/ads.yaml": ('monthly_fee: "50.00"', "monthly_fee: -50")},
        "rules/plans/ads.yaml",
        "versions[0].monthly_fee",
        "-50 must be >= 0",
    ),
    (
        "zero-per",
        {"plans/ads.yaml": charge('ad.click: {model: per_unit, price: "1", per: 0}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.per",
        "0 must be > 0",
    ),
    (
        "zero-increment",
        {"plans/ads.yaml": charge('ad.click: {model: per_unit, price: "1", increment: "0"}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.increment",
        '"0" must be > 0',
    ),
    (
        "negative-minimum",
        {"plans/ads.yaml": charge('ad.click: {model: per_unit, price: "1", minimum: -1}')},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click.minimum",
        "-1 must be >= 0",
    ),
    # --- what each model allows ---
    (
        "destinations-on-tiered",
        {
            "plans/ads.yaml": charge(
                DATA.replace(
                    "tiers:", 'destinations: [{prefix: "+48", price: "1"}]\n        tiers:'
                )
            )
        },
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.destinations",
        "`destinations` is only allowed with per_unit, not graduated",
    ),
    (
        "peak-on-tiered",
        {
            "plans/ads.yaml": charge(
                DATA.replace("graduated", "volume").replace(
                    "tiers:", 'peak: {days: [mon], from: "08:00", to: "18:00"}\n        tiers:'
                )
            )
        },
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.peak",
        "`peak` is only allowed with per_unit, not volume",
    ),
    (
        "price-on-tiered",
        {"plans/ads.yaml": charge(DATA.replace("tiers:", 'price: "1"\n        tiers:'))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.price",
        "`price` is only allowed with per_unit, not graduated",
    ),
    (
        "tiered-needs-tiers",
        {"plans/ads.yaml": charge("telecom.data: {model: volume, per: 1024}")},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data",
        "a volume charge needs `tiers`",
    ),
    (
        "tiers-on-per-unit",
        {"plans/ads.yaml": charge(DATA.replace("graduated", "per_unit"))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.tiers",
        "`tiers` is only allowed with graduated or volume, not per_unit",
    ),
    (
        "per-unit-needs-price",
        {"plans/ads.yaml": charge("ad.click: {model: per_unit, per: 1}")},
        "rules/plans/ads.yaml",
        "versions[0].charges.ad.click",
        "a per_unit charge needs `price` (or `destinations`)",
    ),
    (
        "peak-needs-factor",
        {"plans/ads.yaml": charge(VOICE.replace('off_peak_factor: "0.5"', ""))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice",
        "`peak` needs `off_peak_factor`, the price factor outside the peak window",
    ),
    (
        "factor-needs-peak",
        {
            "plans/ads.yaml": charge(
                VOICE.replace('peak: {days: [mon, tue], from: "08:00", to: "18:00"}', "")
            )
        },
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.off_peak_factor",
        "`off_peak_factor` has no effect without `peak`",
    ),
    # --- destinations ---
    (
        "unquoted-prefix",
        {
            "plans/ads.yaml": charge(
                'telecom.sms: {model: per_unit, destinations: [{prefix: +48, price: "1"}]}'
            )
        },
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.sms.destinations[0].prefix",
        '48 is not a string (quote it: "+48")',
    ),
    (
        "bad-prefix",
        {
            "plans/ads.yaml": charge(
                'telecom.sms: {model: per_unit, destinations: [{prefix: "48", price: "1"}]}'
            )
        },
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.sms.destinations[0].prefix",
        '"48" is not a destination prefix ("+" then digits, e.g. "+48")',
    ),
    (
        "repeated-prefix",
        {
            "plans/ads.yaml": charge(
                "telecom.sms: {model: per_unit, destinations: "
                '[{prefix: "+4", price: "1"}, {prefix: "+4", price: "2"}]}'
            )
        },
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.sms.destinations[1].prefix",
        '"+4" is also the prefix of [0]',
    ),
    (
        "no-destinations",
        {"plans/ads.yaml": charge("telecom.sms: {model: per_unit, destinations: []}")},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.sms.destinations",
        "must not be empty",
    ),
    # --- peak ---
    (
        "unquoted-from",
        {"plans/ads.yaml": charge(VOICE.replace('from: "08:00"', "from: 8:00"))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.peak.from",
        '480 is not a string (quote it: "08:00")',
    ),
    (
        "unquoted-to",
        {"plans/ads.yaml": charge(VOICE.replace('to: "18:00"', "to: 18:00"))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.peak.to",
        '1080 is not a string (quote it: "18:00")',
    ),
    (
        "bad-clock",
        {"plans/ads.yaml": charge(VOICE.replace('to: "18:00"', 'to: "18:60"'))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.peak.to",
        '"18:60" is not a time "HH:MM" from "00:00" to "24:00"',
    ),
    (
        "from-24",
        {"plans/ads.yaml": charge(VOICE.replace('from: "08:00"', 'from: "24:00"'))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.peak.from",
        '"24:00" is the end of a day; `from` must be "00:00" to "23:59"',
    ),
    (
        "to-not-after-from",
        {"plans/ads.yaml": charge(VOICE.replace('to: "18:00"', 'to: "08:00"'))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.peak.to",
        '"08:00" is not after `from` "08:00"; a peak window cannot pass midnight '
        '(write "24:00" for the end of the day)',
    ),
    (
        "unknown-day",
        {"plans/ads.yaml": charge(VOICE.replace("[mon, tue]", "[mon, monday]"))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.peak.days[1]",
        "unknown day `monday`; expected one of mon, tue, wed, thu, fri, sat, sun",
    ),
    (
        "repeated-day",
        {"plans/ads.yaml": charge(VOICE.replace("[mon, tue]", "[mon, tue, mon]"))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.voice.peak.days[2]",
        '"mon" is listed twice',
    ),
    # --- tiers ---
    (
        "tiers-not-ascending",
        {"plans/ads.yaml": charge(DATA.replace("up_to: 200", "up_to: 100"))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.tiers[1].up_to",
        "100 must be above the previous tier's up_to 100",
    ),
    (
        "last-tier-bounded",
        {"plans/ads.yaml": charge(DATA.replace('{price: "0.01"}', '{up_to: 300, price: "0.01"}'))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.tiers[2].up_to",
        "the last tier must not have `up_to`: it covers every unit above",
    ),
    (
        "middle-tier-unbounded",
        {"plans/ads.yaml": charge(DATA.replace('{up_to: 200, price: "0.02"}', '{price: "0.02"}'))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.tiers[1]",
        "only the last tier may leave out `up_to`",
    ),
    (
        "zero-up-to",
        {"plans/ads.yaml": charge(DATA.replace("up_to: 100", "up_to: 0"))},
        "rules/plans/ads.yaml",
        "versions[0].charges.telecom.data.tiers[0].up_to",
        "0 must be > 0",
    ),
    # --- plans ---
    (
        "unknown-timezone",
        {"plans/ads.yaml": ("Europe/Warsaw", "Europe/Warsawa")},
        "rules/plans/ads.yaml",
        "timezone",
        "unknown time zone `Europe/Warsawa`; expected an IANA name such as Europe/Warsaw or UTC",
    ),
    (
        "bad-currency",
        {"plans/ads.yaml": ("currency: EUR", "currency: eur")},
        "rules/plans/ads.yaml",
        "currency",
        '"eur" is not an ISO 4217 currency code (three capital letters)',
    ),
    (
        "repeated-effective-from",
        {"plans/ads.yaml": PLAN + SECOND_VERSION.replace("06-01", "01-01")},
        "rules/plans/ads.yaml",
        "versions[1].effective_from",
        "2026-01-01T00:00:00Z is also the effective_from of versions[0]",
    ),
    (
        "repeated-plan",
        {"plans/other.yaml": PLAN},
        "rules/plans/other.yaml",
        "plan",
        "plan `ads` is already defined in rules/plans/ads.yaml",
    ),
    # --- timestamps ---
    (
        "timestamp-no-offset",
        {"plans/ads.yaml": ('"2026-01-01T00:00:00Z"', '"2026-01-01T00:00:00"')},
        "rules/plans/ads.yaml",
        "versions[0].effective_from",
        '"2026-01-01T00:00:00" is not an RFC 3339 timestamp with an offset '
        '(e.g. "2026-01-01T00:00:00Z")',
    ),
    (
        "yaml-timestamp-no-offset",
        {"plans/ads.yaml": ('"2026-01-01T00:00:00Z"', "2026-01-01 00:00:00")},
        "rules/plans/ads.yaml",
        "versions[0].effective_from",
        '2026-01-01 00:00:00 has no UTC offset; add Z or ±hh:mm (e.g. "2026-01-01T00:00:00Z")',
    ),
    (
        "yaml-date",
        {"plans/ads.yaml": ('"2026-01-01T00:00:00Z"', "2026-01-01")},
        "rules/plans/ads.yaml",
        "versions[0].effective_from",
        '2026-01-01 is a date; expected a timestamp with an offset (e.g. "2026-01-01T00:00:00Z")',
    ),
    (
        "impossible-time",
        {"plans/ads.yaml": ('"2026-01-01T00:00:00Z"', '"2026-01-01T23:59:60Z"')},
        "rules/plans/ads.yaml",
        "versions[0].effective_from",
        '"2026-01-01T23:59:60Z" is not a real date and time',
    ),
    (
        "before-year-1-in-utc",
        {"plans/ads.yaml": ('"2026-01-01T00:00:00Z"', '"0001-01-01T00:00:00+05:00"')},
        "rules/plans/ads.yaml",
        "versions[0].effective_from",
        '"0001-01-01T00:00:00+05:00" is outside the years 1 to 9999 in UTC',
    ),
    # --- accounts ---
    (
        "repeated-account",
        {"accounts.yaml": ACCOUNTS + '  - {id: acme, plan: ads, tax_rate: "1"}\n'},
        "rules/accounts.yaml",
        "accounts[2].id",
        "account `acme` is also accounts[0]",
    ),
    (
        "unknown-plan",
        {
            "accounts.yaml": ('plan: ads, tax_rate: "0"', 'plan: gold, tax_rate: "0"'),
            "plans/zed.yaml": PLAN.replace("plan: ads", "plan: zed"),
        },
        "rules/accounts.yaml",
        "accounts[1].plan",
        "unknown plan `gold`; known plans: ads, zed",
    ),
    (
        "unknown-sla",
        {"accounts.yaml": ("sla: gold", "sla: platinum")},
        "rules/accounts.yaml",
        "accounts[0].sla",
        "unknown SLA `platinum`; known SLAs: gold",
    ),
    (
        "sla-without-slas-file",
        {"slas.yaml": None},
        "rules/accounts.yaml",
        "accounts[0].sla",
        "unknown SLA `gold`; no SLAs are defined",
    ),
    (
        "valid-to-not-after-from",
        {
            "accounts.yaml": ACCOUNTS.replace(
                '"2026-01-01T00:00:00Z"}',
                '"2026-01-01T00:00:00Z", valid_to: 2025-12-31T23:00:00-01:00}',
            )
        },
        "rules/accounts.yaml",
        "accounts[1].valid_to",
        "2026-01-01T00:00:00Z is not after valid_from 2026-01-01T00:00:00Z",
    ),
    (
        "negative-tax",
        {"accounts.yaml": ('tax_rate: "23"', 'tax_rate: "-23"')},
        "rules/accounts.yaml",
        "accounts[0].tax_rate",
        '"-23" must be >= 0',
    ),
    # --- SLAs ---
    (
        "percent-over-100",
        {"slas.yaml": ('percent: "25"', 'percent: "100.5"')},
        "rules/slas.yaml",
        "slas.gold.credits[1].percent",
        '"100.5" must be <= 100',
    ),
    (
        "repeated-below",
        {"slas.yaml": ('below: "99.0"', 'below: "99.90"')},
        "rules/slas.yaml",
        "slas.gold.credits[1].below",
        '"99.90" is also the below of [0]',
    ),
    (
        "applies-to-unknown",
        {"slas.yaml": ("[ad.click]", "[ad.click, ad.view]")},
        "rules/slas.yaml",
        "slas.gold.applies_to[1]",
        "unknown usage type `ad.view`; expected one of ad.click, ad.impression, telecom.data, "
        "telecom.sms, telecom.voice",
    ),
    (
        "probe-failures-zero",
        {"slas.yaml": ("service: portal", "service: portal\n    probe_failures_to_open: 0")},
        "rules/slas.yaml",
        "slas.gold.probe_failures_to_open",
        "0 must be >= 1",
    ),
    (
        "no-credits",
        {
            "slas.yaml": SLAS.split("    credits:")[0]
            + "    credits: []\n    applies_to: [ad.click]\n"
        },
        "rules/slas.yaml",
        "slas.gold.credits",
        "must not be empty",
    ),
    # --- fraud ---
    (
        "fraud-missing-key",
        {"fraud.yaml": ("max_clicks_per_ip_per_minute: 5\n", "")},
        "rules/fraud.yaml",
        "",
        "missing required key `max_clicks_per_ip_per_minute`",
    ),
    (
        "empty-user-agent",
        {"fraud.yaml": ("[bot, crawler]", '[bot, ""]')},
        "rules/fraud.yaml",
        "bot_user_agents[1]",
        '"" is empty; expected a non-empty string',
    ),
    (
        "negative-window",
        {"fraud.yaml": ("3600", '"-1"')},
        "rules/fraud.yaml",
        "attribution_window_s",
        '"-1" must be >= 0',
    ),
    (
        "negative-velocity",
        {"fraud.yaml": ("minute: 5", "minute: -1")},
        "rules/fraud.yaml",
        "max_clicks_per_ip_per_minute",
        "-1 must be >= 0",
    ),
    (
        "float-velocity",
        {"fraud.yaml": ("minute: 5", "minute: 5.0")},
        "rules/fraud.yaml",
        "max_clicks_per_ip_per_minute",
        "5.0 is not an integer",
    ),
]


@pytest.mark.parametrize(
    ("edits", "file", "path", "problem"),
    [
        pytest.param(edits, file, path, problem, id=name)
        for name, edits, file, path, problem in CASES
    ],
)
def test_rule_error(rules: Path, edits: dict, file: str, path: str, problem: str) -> None:
    write_rules(rules, edits)
    with pytest.raises(RuleError) as caught:
        load_rules("rules")
    assert (caught.value.file, caught.value.path, caught.value.problem) == (file, path, problem)


def test_missing_directory(rules: Path) -> None:
    with pytest.raises(RuleError) as caught:
        load_rules("rules")
    assert (caught.value.file, caught.value.problem) == ("rules", "rule directory not found")


def test_directory_is_a_file(rules: Path) -> None:
    rules.write_text("")
    with pytest.raises(RuleError) as caught:
        load_rules(rules)
    assert (caught.value.file, caught.value.problem) == ("rules", "is not a directory")


def test_empty_plan_directory(rules: Path) -> None:
    write_rules(rules, {"plans/ads.yaml": None})
    (rules / "plans").mkdir()
    with pytest.raises(RuleError) as caught:
        load_rules(rules)
    assert (caught.value.file, caught.value.path, caught.value.problem) == (
        "rules/plans",
        "",
        "no plan files; at least one plans/*.yaml is required",
    )


def test_error_message_names_file_path_and_problem(rules: Path) -> None:
    write_rules(rules, {"plans/ads.yaml": PLAN + SECOND_VERSION.replace('"0.40"', '"abc"')})
    with pytest.raises(
        RuleError,
        match=re.escape(
            'rules/plans/ads.yaml: versions[1].charges.ad.click.price: "abc" is not a decimal'
        ),
    ):
        load_rules("rules")


# --- what loads, and how it is compiled ---------------------------------------------------


def test_minimal_rules_load(rules: Path) -> None:
    write_rules(rules, {})
    rs = load_rules("rules")
    assert rs.source == "rules"
    assert rs.slas["gold"].probe_failures_to_open == 3  # the default
    assert rs.slas["gold"].max_credit_percent is None
    assert rs.accounts["acme"].valid_from is None and rs.accounts["acme"].valid_to is None
    assert rs.fraud.attribution_window_s == Decimal(3600)
    assert rs.plans["ads"].versions[0].charges["ad.click"].per == Decimal(1)


def test_slas_file_is_optional(rules: Path) -> None:
    write_rules(rules, {"slas.yaml": None, "accounts.yaml": (", sla: gold", "")})
    assert load_rules("rules").slas == {}


def test_integer_decimals_are_exact(rules: Path) -> None:
    write_rules(
        rules, {"plans/ads.yaml": charge("ad.click: {model: per_unit, price: 1, per: 1000}")}
    )
    click = load_rules("rules").plans["ads"].versions[0].charges["ad.click"]
    assert (click.price, click.per) == (Decimal(1), Decimal(1000))


def test_peak_until_end_of_day(rules: Path) -> None:
    write_rules(rules, {"plans/ads.yaml": charge(VOICE.replace('"18:00"', '"24:00"'))})
    rs = load_rules("rules")
    peak = rs.plans["ads"].versions[0].charges["telecom.voice"].peak
    assert peak is not None
    assert (peak.days, peak.start, peak.end) == ((1, 2), time(8, 0), time(0, 0))
    assert RuleSet.from_json(rs.to_json()) == rs


def test_timestamps_normalised_to_utc(rules: Path) -> None:
    version = '"2026-01-01T00:00:00Z"'
    written = "2026-03-01t01:30:00.1234567+01:00"  # lowercase t, 7 fraction digits, offset
    write_rules(
        rules,
        {
            "plans/ads.yaml": PLAN.replace(version, f'"{written}"') + SECOND_VERSION,
            "accounts.yaml": ('"2026-01-01T00:00:00Z"', "2026-01-01T02:00:00+02:00"),
        },
    )
    rs = load_rules("rules")
    starts = [v.effective_from for v in rs.plans["ads"].versions]
    # Versions are sorted, and fractions beyond the microsecond are truncated, not rounded.
    assert starts == [
        datetime(2026, 3, 1, 0, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
    ]
    assert rs.accounts["hooli"].valid_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert rs.accounts["hooli"].valid_from.tzinfo is UTC


def test_default_rule_set_is_the_worked_example() -> None:
    rs = load_rules(ROOT / "rating_rules")
    assert sorted(rs.plans) == ["ads-premium", "ads-standard", "telco-basic", "telco-volume"]
    assert sorted(rs.accounts) == ["acme", "globex", "hooli", "initech", "umbrella", "vandelay"]
    premium = rs.plans["ads-premium"]
    assert premium.version_at(datetime(2026, 10, 20, tzinfo=UTC)).monthly_fee == Decimal("150.00")
    assert premium.versions[0].charges["ad.impression"].price == Decimal("3.3333")
    voice = rs.plans["telco-basic"].versions[0].charges["telecom.voice"]
    # `from: 08:00` is unquoted there; YAML 1.1 reads it as a string since 08 is no number.
    assert voice.peak == Peak(days=(1, 2, 3, 4, 5), start=time(8), end=time(18))
    assert [d.prefix for d in voice.destinations] == ["+48", "+4860", "+44"]
    assert voice.price is None and voice.off_peak_factor == Decimal("0.5")
    data = rs.plans["telco-volume"].versions[0].charges["telecom.data"]
    assert [(t.up_to, t.price) for t in data.tiers] == [
        (Decimal(52428800), Decimal("0.05")),
        (Decimal(262144000), Decimal("0.03")),
        (None, Decimal("0.015")),
    ]
    assert rs.accounts["initech"].valid_to == datetime(2026, 10, 25, tzinfo=UTC)
    assert rs.slas["silver"].probe_failures_to_open == 2
    assert rs.slas["gold"].credits[2].percent == Decimal(50)
    assert rs.fraud.bot_user_agents == ("bot", "crawler", "spider", "headless")
    assert rs.fraud.max_clicks_per_ip_per_minute == 5


def test_json_round_trip() -> None:
    rs = load_rules(ROOT / "rating_rules")
    assert RuleSet.from_json(rs.to_json()) == rs
    assert RuleSet.from_json(rs.to_json()).digest == rs.digest


def test_loading_is_deterministic() -> None:
    assert (
        load_rules(ROOT / "rating_rules").to_json() == load_rules(ROOT / "rating_rules").to_json()
    )


# --- the schemas and the README cannot drift ---------------------------------------------


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


@pytest.mark.parametrize("name", ["plan", "accounts", "slas", "fraud"])
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema(name))


def test_schema_enums_match_the_model() -> None:
    plan, slas = schema("plan")["$defs"], schema("slas")["$defs"]
    assert tuple(plan["version"]["properties"]["charges"]["propertyNames"]["enum"]) == USAGE_TYPES
    assert tuple(slas["sla"]["properties"]["applies_to"]["items"]["enum"]) == USAGE_TYPES
    assert tuple(plan["charge"]["properties"]["model"]["enum"]) == MODELS
    assert tuple(plan["peak"]["properties"]["days"]["items"]["enum"]) == WEEKDAYS


def test_shared_definitions_are_identical() -> None:
    defs = [schema(n)["$defs"] for n in ("plan", "accounts", "slas", "fraud")]
    for name in ("decimal", "timestamp", "name"):
        copies = [d[name] for d in defs if name in d]
        assert len(copies) > 1 and all(c == copies[0] for c in copies), name


def keys(node: object) -> set[str]:
    """Every property name a schema declares."""
    if isinstance(node, dict):
        own = set(node.get("properties", {}))
        return own.union(*(keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(keys(v) for v in node))
    return set()


def test_readme_documents_every_key() -> None:
    readme = (ROOT / "rating_rules" / "README.md").read_text()
    for name in ("plan", "accounts", "slas", "fraud"):
        for key in keys(schema(name)):
            assert f"`{key}`" in readme, f"{key} ({name}) is not in rating_rules/README.md"


def test_a_rule_file_nested_thousands_deep_is_a_rule_error(rules: Path) -> None:
    """It was a RecursionError traceback (the node checks recurse once per level)."""
    write_rules(rules, {})
    with (rules / "fraud.yaml").open("a") as f:
        f.write("x: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(RuleError) as caught:
        load_rules("rules")
    assert (caught.value.file, caught.value.problem) == (
        "rules/fraud.yaml",
        "is nested too deeply to be a rule file (thousands of levels)",
    )
