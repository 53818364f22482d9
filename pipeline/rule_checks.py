"""Reading one rule file and checking single values in it, for `rules.load_rules`.

Two layers check a rule file. The JSON Schemas in `schemas/rules/` own its *shape* (keys,
types, enums) so an editor or CI job can check a file without this package; the parsers here own
what a schema cannot say (a decimal within its scale, a real calendar date, a clock time).
Both speak the same language: every problem becomes `RuleError(file, path, problem)` whose
problem names the bad value as it would look in JSON and, where there are few, the valid choices.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from yaml.constructor import SafeConstructor

from pipeline.errors import PipelineError, RuleError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "rules"

DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # [0-9], not \d: \d also matches "١٢"
CLOCK_RE = re.compile(r"(?:([01][0-9]|2[0-3]):([0-5][0-9]))|24:00")
RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
END_OF_DAY = 24 * 60  # "24:00", in minutes after midnight
EXAMPLE_TS = '"2026-01-01T00:00:00Z"'


@dataclass(frozen=True)
class Where:
    """A place in a rule file: the file as given and a dotted path (`versions[0].charges`)."""

    file: str
    path: str = ""

    def at(self, key: str | int) -> Where:
        if isinstance(key, int):
            return Where(self.file, f"{self.path}[{key}]")
        return Where(self.file, f"{self.path}.{key}" if self.path else key)

    def fail(self, problem: str) -> NoReturn:
        raise RuleError(self.file, self.path, problem)


@dataclass(frozen=True)
class Num:
    """How one kind of decimal field is bounded: fraction digits, lower and upper limits.

    The rating arithmetic is exact integer math at fixed scales, so a field may not carry more
    fraction digits than that scale (`places`)."""

    places: int
    low: Decimal | None = Decimal(0)
    strict: bool = False  # True: must be above `low`, not equal to it
    high: Decimal | None = None


# Upper bounds keep every value, and what rating and billing compute from it, inside the
# warehouse's types (DECIMAL(38,12) holds less than 10^26; a window in microseconds, 64 bits):
# a larger one would stop the run inside DuckDB, naming neither file nor entry.
HIGH = Decimal(10**20)
PRICE = Num(places=12, high=HIGH)  # price, fees, factors, tax rate
PERCENT = Num(places=12, high=Decimal(100))
QUANTITY = Num(places=9, high=HIGH)  # minimum
POSITIVE_QUANTITY = Num(places=9, strict=True, high=HIGH)  # per, increment, up_to
WINDOW = Num(places=9, high=Decimal(10**12))  # attribution window (s): ~31,700 years


# --- how values are shown ------------------------------------------------------------------


def show(value: object) -> str:
    """A value as the user would write it in JSON: strings quoted, `true`, `null`."""
    if isinstance(value, str | bool | int) or value is None:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def show_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def not_decimal(value: object) -> str:
    """A YAML float gets its own hint: it is binary, so it is never read as money."""
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return f'{value!r} is not a decimal string (quote it: "{Decimal(repr(value)):f}")'
    return f"{show(value)} is not a decimal"


def not_timestamp(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value} has no UTC offset; add Z or ±hh:mm (e.g. {EXAMPLE_TS})"
    if isinstance(value, date):
        return f"{value} is a date; expected a timestamp with an offset (e.g. {EXAMPLE_TS})"
    return f"{show(value)} is not an RFC 3339 timestamp with an offset (e.g. {EXAMPLE_TS})"


def not_clock(value: object) -> str:
    """YAML 1.1 reads an unquoted `18:00` as the sexagesimal number 1080: say how to fix it."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= END_OF_DAY:
        return f'{value} is not a string (quote it: "{value // 60:02d}:{value % 60:02d}")'
    if isinstance(value, str):
        return f'{show(value)} is not a time "HH:MM" from "00:00" to "24:00"'
    return f"{show(value)} is not a string (quote it)"


def not_prefix(value: object) -> str:
    """YAML reads an unquoted `+48` as the number 48: say how to fix it."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f'{value} is not a string (quote it: "+{value}")'
    if isinstance(value, str):
        return f'{show(value)} is not a destination prefix ("+" then digits, e.g. "+48")'
    return f"{show(value)} is not a string (quote it)"


# --- value parsers -------------------------------------------------------------------------


def number(value: object, where: Where, kind: Num) -> Decimal:
    """A decimal string or a YAML int (exact), within `kind`'s scale and bounds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        where.fail(not_decimal(value))
    if isinstance(value, str) and not DECIMAL_RE.fullmatch(value):
        where.fail(not_decimal(value))
    result = Decimal(value)
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > kind.places:
        where.fail(f"{show(value)} has more than {kind.places} decimal places")
    _check_bounds(result, value, where, kind)
    return result


def _check_bounds(result: Decimal, value: object, where: Where, kind: Num) -> None:
    if kind.low is not None and kind.strict and result <= kind.low:
        where.fail(f"{show(value)} must be > {kind.low}")
    if kind.low is not None and result < kind.low:
        where.fail(f"{show(value)} must be >= {kind.low}")
    if kind.high is not None and result > kind.high:
        where.fail(f"{show(value)} must be <= {kind.high}")


def optional_number(doc: dict[str, Any], key: str, where: Where, kind: Num) -> Decimal | None:
    return number(doc[key], where.at(key), kind) if key in doc else None


def timestamp(value: object, where: Where) -> datetime:
    """An aware UTC datetime from an RFC 3339 string or a YAML timestamp that has an offset."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            where.fail(not_timestamp(value))
        return value.astimezone(UTC)
    match = RFC3339_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        where.fail(not_timestamp(value))
    try:
        return _rfc3339(match).astimezone(UTC)
    except ValueError:  # 2026-02-30, second 60, offset 24:00
        where.fail(f"{show(value)} is not a real date and time")
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is in year 0 in UTC
        where.fail(f"{show(value)} is outside the years 1 to 9999 in UTC")


def _rfc3339(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second, fraction, sign, oh, om = match.groups()
    # The contract keeps times to the microsecond and truncates further digits.
    micro = int((fraction or "")[:6].ljust(6, "0"))
    offset = timedelta(hours=int(oh or 0), minutes=int(om or 0)) * (-1 if sign == "-" else 1)
    zone = timezone(offset)
    date_part = int(year), int(month), int(day)
    return datetime(*date_part, int(hour), int(minute), int(second), micro, tzinfo=zone)


def clock(value: object, where: Where) -> int:
    """Minutes after midnight of a quoted "HH:MM"; "24:00" (the end of a day) is 1440."""
    match = CLOCK_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        where.fail(not_clock(value))
    if value == "24:00":
        return END_OF_DAY
    return int(match.group(1)) * 60 + int(match.group(2))


# --- reading a file ------------------------------------------------------------------------


def read_rule_file(path: Path, schema: str) -> dict[str, Any]:
    """The file's mapping, after YAML, key and schema checks; any problem is a RuleError."""
    where = Where(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        where.fail("is not UTF-8 text")
    except OSError as err:
        where.fail(f"cannot be read: {err.strerror}")
    try:
        _check_nodes(_yaml(lambda loader: yaml.compose(text, Loader=loader), where), where, set())
        doc = _yaml(lambda loader: yaml.load(text, Loader=loader), where)  # noqa: S506 - safe
    except RecursionError:  # (a rule is a few levels deep: thousands are no rule file)
        where.fail("is nested too deeply to be a rule file (thousands of levels)")
    if doc is None:
        where.fail("file is empty; expected a mapping")
    if not isinstance(doc, dict):
        where.fail(f"expected a mapping at the top of the file, found {show(doc)}")
    check_schema(doc, schema, where)
    return doc


# libyaml's safe loader when PyYAML has it (its wheels do): the same documents, parsed about ten
# times faster. A file it refuses is parsed again by the pure-Python loader, whose messages say
# what was expected and what was found.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml(parse: Callable[[type], Any], where: Where) -> Any:
    """Run a YAML parse (given the loader class), turning its errors into a RuleError with the
    line number."""
    try:
        return parse(_FAST_LOADER)
    except yaml.YAMLError:
        pass
    try:
        return parse(yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else "?"
        where.fail(f"invalid YAML at line {line}: {err.problem}")
    except yaml.YAMLError as err:
        where.fail(f"invalid YAML: {err}")


STR_TAG, MERGE_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _check_nodes(node: yaml.Node | None, where: Where, seen: set[int]) -> None:
    """What `safe_load` hides: a key written twice (it silently keeps the last), a key that is
    not a string (`1:`, `yes:`), a YAML timestamp that is no real date (it raises a bare
    ValueError without a line)."""
    if node is None or id(node) in seen:  # aliases share nodes; recursive ones loop
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_nodes(item, where.at(i), seen)
    elif isinstance(node, yaml.MappingNode):
        _check_mapping(node, where, seen)
    elif isinstance(node, yaml.ScalarNode) and node.tag == TIMESTAMP_TAG:
        try:
            SafeConstructor().construct_yaml_timestamp(node)
        except ValueError:
            where.fail(f"{node.value} is not a real date and time")


def _check_mapping(node: yaml.MappingNode, where: Where, seen: set[int]) -> None:
    lines: dict[str, int] = {}
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            continue
        if not isinstance(key, yaml.ScalarNode):
            where.fail(
                f"a key at line {key.start_mark.line + 1} is a list or mapping, not a string"
            )
        if key.tag != STR_TAG:
            where.fail(f'key {key.value} is not a string (quote it: "{key.value}")')
        line = key.start_mark.line + 1
        if key.value in lines:
            where.fail(f"key `{key.value}` appears twice (lines {lines[key.value]} and {line})")
        lines[key.value] = line
        _check_nodes(value, where.at(key.value), seen)


# --- the schema layer ----------------------------------------------------------------------


def _is_integer(_checker: object, value: object) -> bool:
    # jsonschema counts 3.0 as an integer; a YAML float is never coerced into one here.
    return isinstance(value, int) and not isinstance(value, bool)


_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@functools.cache
def schema_for(name: str) -> dict[str, Any]:
    """The JSON Schema `schemas/rules/<name>.schema.json`, read once."""
    path = SCHEMA_DIR / f"{name}.schema.json"
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return schema
    except OSError as err:
        raise PipelineError(f"rule schema {path} cannot be read ({err.strerror})") from err


def check_schema(doc: dict[str, Any], name: str, where: Where) -> None:
    """Validate against the schema; report the most relevant (shallowest) error."""
    validator = _Validator(schema_for(name))
    errors = [e for e in validator.iter_errors(doc) if not _yaml_timestamp(e)]
    if errors:
        error = best_match(errors)
        path, problem = schema_problem(error)
        Where(where.file, render_path(path)).fail(problem)


def _yaml_timestamp(error: ValidationError) -> bool:
    """JSON has no timestamps; the contract allows YAML ones with an offset where a
    `date-time` string is expected, and `timestamp()` converts them."""
    value = error.instance
    return (
        error.validator == "type"
        and error.schema.get("format") == "date-time"  # type: ignore[union-attr]
        and isinstance(value, datetime)
        and value.utcoffset() is not None
    )


def render_path(parts: Iterable[str | int]) -> str:
    where = Where("")
    for part in parts:
        where = where.at(part)
    return where.path


def schema_problem(error: ValidationError) -> tuple[list[str | int], str]:
    """The error's path and a problem phrased like the Python checks phrase theirs."""
    path = list(error.absolute_path)
    schema: dict[str, Any] = error.schema  # type: ignore[assignment]
    value: Any = error.instance
    rule: Any = error.validator_value
    match error.validator:
        case "type":
            return path, type_problem(value, rule, schema.get("format"))
        case "pattern":
            return path, type_problem(value, "string", schema.get("format"))
        case "enum":
            choices = ", ".join(str(c) for c in rule)
            name = schema.get("title", "value")
            return path, f"unknown {name} `{value}`; expected one of {choices}"
        case "required":
            missing = next(k for k in rule if k not in value)
            return path, f"missing required key `{missing}`"
        case "additionalProperties":
            allowed = list(schema.get("properties", {}))
            extra = next(k for k in value if k not in allowed)
            return path, f"unknown key `{extra}`; expected one of {', '.join(allowed)}"
        case "uniqueItems":
            index = next(i for i, v in enumerate(value) if v in value[:i])
            return [*path, index], f"{show(value[index])} is listed twice"
    return path, _limit_problem(error)


def _limit_problem(error: ValidationError) -> str:
    value, rule = error.instance, error.validator_value
    match error.validator:
        case "minimum":
            return f"{show(value)} must be >= {rule}"
        case "exclusiveMinimum":
            return f"{show(value)} must be > {rule}"
        case "maximum":
            return f"{show(value)} must be <= {rule}"
        case "minItems":
            return "must not be empty"
        case "minLength":
            return f"{show(value)} is empty; expected a non-empty string"
    return error.message


_ARTICLE = {"string": "a string", "integer": "an integer", "object": "a mapping", "array": "a list"}
_BY_FORMAT = {
    "decimal": not_decimal,
    "date-time": not_timestamp,
    "clock": not_clock,
    "prefix": not_prefix,
}


def type_problem(value: object, expected: str | list[str], fmt: str | None) -> str:
    """A value of the wrong type or form: never coerced, so say what to write instead."""
    if value is None:
        return "has no value; give one or remove the key"
    if fmt in _BY_FORMAT:
        return _BY_FORMAT[fmt](value)
    if fmt == "currency" and isinstance(value, str):
        return f"{show(value)} is not an ISO 4217 currency code (three capital letters)"
    names = [expected] if isinstance(expected, str) else expected
    wanted = " or ".join(_ARTICLE.get(n, n) for n in names)
    if isinstance(value, dict | list):
        return f"expected {wanted}, found {show(value)}"
    return f"{show(value)} is not {wanted}"
