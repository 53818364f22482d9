"""Formatting: raw records -> canonical accepted events, or a rejection reason (contract 2.1).

One SQL statement over a raw-record batch. Each document is parsed with `json_transform`: the
paths that must hold a string (ids, names, times) as VARCHARs, unescaped, and the others
(numbers, booleans, lists, specversion) as JSON fragments, whose first character tells the JSON
type (`"` string, digit or `-` number, `t`/`f` bool, `[` array; a fraction or exponent tells a
number from an integer). A VARCHAR leaf renders any other JSON value as text too, so a row whose
string path holds a text that could be one (`12`, `true`, `[...]`: rare) is parsed a second
time, into fragments only, and judged from those; the string fields of every other row are all
JSON strings. JSON `null` and an absent key both come back as SQL NULL, which is what the
contract asks for (null in an optional field = absent; in a required one = bad). The five
reasons are then one CASE in the contract's order.

DuckDB's JSON reader tolerates NaN, Infinity (in any letter case, `inf` too, signed) and
trailing commas, which JSON does not: the rare lines that contain those tokens are re-checked by
Python's strict parser.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import duckdb

from .fields import (
    CSV_DATA_FIELDS,
    ENVELOPE,
    EVENT_FIELDS,
    EXACT_NUMBERS,
    SESSION_FIELDS,
    USAGE_TYPES,
    Field,
)

TIME_RE = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# A trailing comma before a closing bracket; JSON white space is exactly these four characters.
# (Separate `contains` tests and a regex with one literal start are ~6x cheaper than one
# alternation over every byte of every line.)
_TRAILING_COMMA_RE = r",[ \t\r\n]*[}\]]"
# A NaN or infinity token where a value starts. Lines are tested for the letters first, by two
# regexes with no alternation (0.17 CPU-s per million lines each, against 0.9 for this one).
_NAN_LETTERS_RE, _INF_LETTERS_RE = "[nN][aA][nN]", "[iI][nN][fF]"
_NONFINITE_RE = r"[:\[,][ \t\r\n]*-?([nN][aA][nN]|[iI][nN][fF])"
NONNEG = {"duration_s", "bytes"}  # "number >= 0", "integer >= 0"
_BLANK_RE = r"^[ \t\r\n\f\v]*$"
_NEG_ZERO_RE = r"-0+(\.0*)?([eE][-+]?[0-9]+)?"


def _data_names() -> list[str]:
    names: list[str] = []
    for fields in EVENT_FIELDS.values():
        names += [f.name for f in fields if f.name not in names]
    return names


DATA_NAMES = _data_names()


def _spec(leaf: Callable[[str], str]) -> str:
    """A json_transform structure with every envelope key and data field, each path's leaf
    type given by `leaf`."""
    data: dict[str, object] = {n: leaf(f"data.{n}") for n in DATA_NAMES if n != "session"}
    data["session"] = {s.name: leaf(f"data.session.{s.name}") for s in SESSION_FIELDS}
    spec = {k: leaf(k) for k in ENVELOPE} | {"data": data}
    return json.dumps(spec).replace("'", "''")


def _is_text(path: str) -> bool:
    """Whether a path must hold a JSON string: the first parse reads it as text (a VARCHAR
    leaf, unescaped); every other path (numbers, booleans, the accounts list, specversion,
    compared as written) as its JSON fragment. (A data path's scalar kind is the one CSV cells
    are typed by: `e164` and `state` are strings.)"""
    if path in ENVELOPE:
        return path != "specversion"
    return CSV_DATA_FIELDS[path][1] == "str"


def _first_leaf(path: str) -> str:
    return "VARCHAR" if _is_text(path) else "JSON"


def _fragment_leaf(path: str) -> str:
    return "JSON"


def _frag(path: str) -> str:
    """The column holding the JSON fragment of a dotted path (`type`, `data.bytes`,
    `data.session.seq`), taken out of the transform's struct once: a text path's from the
    second parse (NULL on a row parsed once), any other's from the first."""
    return "f_" + path.replace(".", "_")


def _val(path: str) -> str:
    """The column holding a path's value as text (computed once per row in the `vals` step)."""
    return "v_" + path.replace(".", "_")


def _plain(path: str) -> str:
    """The column holding a text path's value from the first parse (see _is_text)."""
    return "w_" + path.replace(".", "_")


def _str(path: str) -> str:
    """The column saying whether a path holds a JSON string (NULL when it is absent)."""
    return "s_" + path.replace(".", "_")


def _all_paths() -> list[str]:
    return [
        *ENVELOPE,
        *(f"data.{n}" for n in DATA_NAMES if n != "session"),
        *(f"data.session.{f.name}" for f in SESSION_FIELDS),
    ]


def _text_of(frag: str) -> str:
    """A JSON fragment's value as text: a string unescaped (without a backslash, a plain slice;
    otherwise DuckDB's unescaping), any other value as its JSON text."""
    f = f"{frag}::VARCHAR"
    return (
        # (an absent field, most of them on any row, is settled by the first, cheapest test)
        f"CASE WHEN {frag} IS NULL THEN NULL WHEN NOT starts_with({f}, '\"') THEN {f}"
        f" WHEN contains({f}, '\\') THEN json_extract_string({frag}, '$')"
        f" ELSE substr({f}, 2, length({f}) - 2) END"
    )


_WS = "[ \\t\\r\\n]*"


def _value_text(path: str) -> str:
    exact = path.startswith("data.") and path[5:] in EXACT_NUMBERS
    return _exact_number_text(path) if exact else _text_of(_frag(path))


def _exact_number_text(path: str) -> str:
    """A number's text as written, not as a double renders it: the fragment is re-serialised
    from a double, so `60.000000000000001` would read as `60.0` and `99999999.999999999` as
    `100000000.0`. An integer's fragment is exact; a number with a fraction or exponent is
    read from the document, where its key occurs once (`"duration_s"` then `:` cannot occur
    inside a string) and the digits found read as the same double as the parsed value; any
    doubt leaves the fragment's text."""
    frag, text = _frag(path), _text_of(_frag(path))
    key = f'"{path.rsplit(".", 1)[-1]}"{_WS}:'
    found = f"regexp_extract_all(txt, '{key}{_WS}(-?[0-9][0-9.eE+-]*)', 1)"
    return f"""CASE WHEN {frag} IS NULL OR NOT regexp_matches({frag}, '^-?[0-9].*[.eE]') THEN {text}
      WHEN len(regexp_extract_all(txt, '{key}')) = 1 AND len({found}) = 1
       AND try_cast({found}[1] AS DOUBLE) = try_cast({frag}::VARCHAR AS DOUBLE)
      THEN {found}[1] ELSE {text} END"""


# What DuckDB renders a JSON value other than a string as, read into a VARCHAR: a number
# (`12`, `1e+300`, `-1.25e-07`: an IP address or a date, which also start with a digit, is
# none), or a minified array or object; or `true` or `false`. (The non-finite numbers DuckDB's
# parser also takes never get here: a line holding one is malformed.)
_VALUE_RE = r"(?s)-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|[\[{].*"
_VALUE_START = "[-0-9[{]*"  # a GLOB: the first character of such a rendering
_VALUE_WORDS = "('true', 'false')"


def _looks_like_value(plain: str) -> str:
    """Whether a text path's value from the first parse could be a JSON value other than a
    string: a VARCHAR leaf gives a string and any other value alike as text, and only the JSON
    fragment tells them apart. The regex runs only on a text that starts as a rendering does
    (a digit, `-`, `[` or `{`): most texts are settled by their first character, which a GLOB
    tests at a third of a regex's cost."""
    return (
        f"CASE WHEN {plain} GLOB '{_VALUE_START}' THEN regexp_full_match({plain}, '{_VALUE_RE}')"
        f" ELSE {plain} IN {_VALUE_WORDS} END"
    )


def _deciding_texts(type_: str) -> list[str]:
    """The text paths of a record of `type_` whose being a string decides its outcome: the
    envelope's id and source (and a usage record's subject), and its `str` data fields. Not
    `type` (a known type's name renders no other value), `time` (tested by its form, which no
    other value's rendering has), an `e164` or `state` field (a value that is not a string
    fails their form as its rendering would: the same `bad_data`), nor another type's fields,
    which this record carries as extra fields, kept but not judged."""
    paths = ["id", "source", *(["subject"] if type_ in USAGE_TYPES else [])]
    for f in EVENT_FIELDS[type_]:
        if f.kind == "str":
            paths.append(f"data.{f.name}")
        elif f.kind == "session":
            paths += [f"data.session.{s.name}" for s in SESSION_FIELDS if s.kind == "str"]
    return paths


def _twice_sql() -> str:
    """Whether a row is parsed a second time (see _looks_like_value): one whose deciding text
    paths hold a text that could be another value, whose time does not have the form of one
    (its type may be a non-string's rendering), or whose type is not a known type's name (its
    reason then depends on whether `type` is a string); never a line that is no JSON object.
    Only a record's own deciding paths are tested: a third of the tests of every path."""
    cases = " ".join(
        f"WHEN {TYPE_BIT[t]} THEN "
        + " OR ".join(_looks_like_value(_plain(p)) for p in _deciding_texts(t))
        for t in EVENT_FIELDS
    )
    return f"coalesce(is_obj AND (NOT time_shaped OR CASE tbit {cases} ELSE true END), false)"


def _values_sql() -> str:
    """Each path's text (`v_`) and whether it holds a JSON string (`s_`). A text path's text is
    the first parse's on every row: where it holds a string, the VARCHAR leaf is the string,
    as its fragment would give it, and every test of its text is made only where it is one (a
    rejected record whose id or source is another value stores that value's rendering). Its
    `s_` is from the first parse, or from its fragment on a row parsed twice (see
    _looks_like_value); any other path's text and `s_` are from its fragment."""
    cols = []
    for p in _all_paths():
        f, w = _frag(p), _plain(p)
        if _is_text(p):
            text = w
            is_str = f"CASE WHEN twice THEN starts_with({f}, '\"') ELSE {w} IS NOT NULL END"
        else:
            text, is_str = _value_text(p), f"starts_with({f}, '\"')"
        cols += [f"{text} AS {_val(p)}", f"{is_str} AS {_str(p)}"]
    return ", ".join(cols)


def _kind_ok(path: str, kind: str) -> str:
    """The check for one present field of the given kind (NULL-safe: NULL reads as failure)."""
    f, v = _frag(path), _val(path)
    if kind == "session":
        parts = [_kind_ok(f"data.session.{s.name}", s.kind) for s in SESSION_FIELDS]
        sql = " AND ".join([*parts, f"try_cast({_val('data.session.seq')} AS BIGINT) >= 1"])
    else:
        sql = {
            "str": _str(path),
            "e164": f"{_str(path)} AND regexp_full_match({v}, '\\+[0-9]+')",
            "number": f"regexp_matches({f}, '^-?[0-9]')"
            f" AND try_cast({v} AS DECIMAL(38,9)) IS NOT NULL",
            "integer": f"regexp_full_match({f}, '-?[0-9]+')"
            f" AND try_cast({v} AS BIGINT) IS NOT NULL",
            "bool": f"{f} IN ('true', 'false')",
            "state": f"{_str(path)} AND {v} IN ('open', 'resolved')",
            "accounts": f"starts_with({f}, '[') AND list_bool_and(list_transform("
            f"json_type({f}, '$[*]'), lambda x: x = 'VARCHAR')) IS NOT FALSE",
        }[kind]
    if path.rsplit(".", 1)[-1] in NONNEG:
        # by its sign, not its value at 9 decimals (where -1e-10 reads as 0); -0 is >= 0
        sql += f" AND (NOT starts_with({v}, '-') OR regexp_full_match({v}, '{_NEG_ZERO_RE}'))"
    return f"coalesce(({sql}), false)"


def _present(path: str, kind: str) -> str:
    # A session is a struct in the transform: present when the struct is.
    return f"{_frag(path)} IS NOT NULL" if kind == "session" else f"{_val(path)} IS NOT NULL"


def _field_ok(f: Field) -> str:
    path = f"data.{f.name}"
    ok = _kind_ok(path, f.kind)
    present = _present(path, f.kind)
    return f"({present} AND {ok})" if f.required else f"(NOT {present} OR {ok})"


def _data_ok() -> str:
    cases = " ".join(
        f"WHEN {TYPE_BIT[type_]} THEN " + " AND ".join(_field_ok(f) for f in fields)
        for type_, fields in EVENT_FIELDS.items()
    )
    return f"coalesce(CASE tbit {cases} ELSE false END, false)"


def _nonempty_str(path: str) -> str:
    return f"coalesce(({_str(path)} AND {_val(path)} <> ''), false)"


def _in(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# Each event type's bit in `tbit` (0: not a known type), so that a test of the type against a
# list of types is one integer AND, not string comparisons (DuckDB runs a longer IN list as a
# join): a record's data columns are kept only for the types that define the field (_only).
TYPE_BIT = {t: 1 << i for i, t in enumerate(EVENT_FIELDS)}


def _type_bit_sql() -> str:
    """The type's bit, from the first parse (a type that is not a string renders no type's
    name: its bit is 0)."""
    cases = " ".join(f"WHEN '{t}' THEN {bit}" for t, bit in TYPE_BIT.items())
    return f"CASE w_type {cases} ELSE 0 END"


def _of_types(types: tuple[str, ...] | list[str]) -> str:
    """Whether the record's type is one of `types`."""
    return f"(tbit & {sum(TYPE_BIT[t] for t in types)}) <> 0"


def _reason_sql() -> str:
    envelope_ok = " AND ".join(_nonempty_str(k) for k in ("id", "source", "type", "time"))
    return f"""CASE
      WHEN pre_reason IS NOT NULL THEN pre_reason
      WHEN NOT is_obj THEN 'malformed'
      WHEN NOT coalesce(f_specversion = '"1.0"', false) OR NOT ({envelope_ok})
        OR ({_of_types(USAGE_TYPES)} AND NOT {_nonempty_str("subject")})
        THEN 'missing_field'
      WHEN tbit = 0 THEN 'unknown_type'
      WHEN NOT coalesce(time_shaped, false) OR ts IS NULL
        THEN 'bad_time'
      WHEN NOT {_data_ok()} THEN 'bad_data'
    END"""


def _ceil9(v: str) -> str:
    """A number's text as DECIMAL(38,9), rounded *up* at the 9th decimal (a cast rounds half
    up): the rounding up to a multiple of `increment` (on the 10^-9 grid) is then exact, so a
    call of 60.0000000001 s in 60 s increments is two increments, not one. Exact at any number
    of decimals (digits past the 18th are tested as text, in a number without exponent). From
    10^20 up the value has no room for 18 decimals: it is taken as is, and the comparison,
    which would cast it to 18 decimals and fail, is not made."""
    q9, q18 = f"try_cast({v} AS DECIMAL(38,9))", f"try_cast({v} AS DECIMAL(38,18))"
    up = f"({q9} + 0.000000001)::DECIMAL(38,9)"
    return (
        f"CASE WHEN {q18} IS NULL THEN {q9} WHEN {q18} > {q9} THEN {up}"
        # digits 10 to 18 all zero (q9 was not rounded up): a non-zero digit further on
        f" WHEN {q18} = {q9} AND regexp_matches({v}, '^[^eE]*[.][0-9]{{18}}[0-9]*[1-9]')"
        f" THEN {up} ELSE {q9} END"
    )


def _quantity_sql() -> str:
    bit = TYPE_BIT
    return f"""CASE tbit
      WHEN {bit["telecom.voice"]} THEN {_ceil9("v_data_duration_s")}
      WHEN {bit["telecom.data"]} THEN try_cast(v_data_bytes AS DECIMAL(38,9))
      WHEN {bit["quality.incident"]} THEN NULL WHEN {bit["quality.probe"]} THEN NULL
      ELSE 1::DECIMAL(38,9) END"""


def _to_microseconds(text: str) -> str:
    """The time's text (`v_time` or an expression of it) with digits past the microsecond cut,
    not rounded. Only a text longer than the longest microsecond form without offset (27
    characters) can have them, so most rows skip the regex."""
    return (
        "CASE WHEN length(v_time) > 27"
        f" THEN regexp_replace({text}, '(\\.[0-9]{{6}})[0-9]+', '\\1') ELSE {text} END"
    )


# The integer keys of the fraud rules' groups (fraud.py), stored with each accepted record: the
# (subject, impression_id) of rules 2-3 (an impression's own id) and the (ip, UTC minute) of
# rule 4.
PAIR_KEY_SQL = """CASE e.type WHEN 'ad.click' THEN hash(e.subject, e.impression_id)
      WHEN 'ad.impression' THEN hash(e.subject, e.id) END"""
MINUTE_KEY_SQL = "CASE WHEN e.type = 'ad.click' THEN hash(e.ip, date_trunc('minute', e.time)) END"


def period_sql(is_usage: str) -> str:
    """A usage event's period (UTC month); NULL for a quality record, which the usage view so
    leaves out. `is_usage`: the test of `e`'s type (validation has its type bit)."""
    return f"CASE WHEN {is_usage} THEN strftime(e.time, '%Y-%m') END"


PERIOD_SQL = period_sql(f"e.type IN ({_in(USAGE_TYPES)})")


def validate_sql(batch: str) -> str:
    """SQL over the raw-record relation `batch` (RAW_SCHEMA plus the `eid` each record gets):
    every record (blank lines dropped) with its `reason` (NULL = accepted), the canonical
    event columns of schemas/warehouse.sql, and an accepted record's usage columns (`period`,
    the fraud groups' keys); also its type bit (`tbit`), which is not stored."""
    validated = f"""
    WITH decoded AS (
      -- (a line that is not UTF-8 loses bytes to 'ignore': text only when none was lost. A
      -- try() of the strict decode re-ran row by row every vector holding such a line.)
      SELECT *, decode(raw::BLOB, 'ignore') AS kept FROM {batch}
    ), src AS (
      SELECT eid, run_key, file_idx, file, line, raw, pre_reason, doc,
             coalesce(doc, CASE WHEN strlen(kept) = octet_length(raw::BLOB) THEN kept END) AS txt
      FROM decoded
    ), records AS (
      SELECT * FROM src
      -- (a filter's OR tests each term only on the rows the terms before it left: the regex
      -- runs on the few lines that do not start with their brace)
      WHERE pre_reason IS NOT NULL OR doc IS NOT NULL OR starts_with(txt, '{{')
         OR NOT coalesce(regexp_matches(txt, '{_BLANK_RE}'), false)
    ), parsed AS (
      -- AND does not short-circuit in a vectorised projection: CASE guards each parse (inside
      -- a WHEN, DuckDB does test the second operand only where the first holds).
      SELECT *, coalesce(CASE WHEN json_valid(txt) THEN
                  -- (most documents start with their brace: ltrim, a copy, only for the others)
                  CASE WHEN NOT starts_with(txt, '{{')
                        AND NOT starts_with(ltrim(txt, ' \t\r\n'), '{{') THEN false
                       WHEN regexp_matches(txt, '{_TRAILING_COMMA_RE}')
                         OR ((regexp_matches(txt, '{_NAN_LETTERS_RE}')
                              OR regexp_matches(txt, '{_INF_LETTERS_RE}'))
                             AND regexp_matches(txt, '{_NONFINITE_RE}'))
                         THEN strict_json_object(txt)
                       ELSE true END END, false) AS is_obj
      FROM records
    ), typed AS (
      SELECT *, CASE WHEN is_obj THEN json_transform(txt, '{_spec(_first_leaf)}') END AS j
      FROM parsed
    ), plain AS (
      -- (each value its own column: the many references to them below then bind as plain
      -- columns, not struct paths, which took a quarter of the statement's planning)
      SELECT * EXCLUDE (j),
        {", ".join(f"j.{p} AS {_plain(p) if _is_text(p) else _frag(p)}" for p in _all_paths())},
        j.data.session AS f_data_session
      FROM typed
    ), shaped AS (
      -- (the time's form, read from the first parse: a time that is not a string is
      -- `missing_field`, which the reason tests before the form)
      SELECT *, regexp_matches(w_time, '{TIME_RE}') AS time_shaped, {_type_bit_sql()} AS tbit
      FROM plain
    ), flagged AS (
      SELECT *, {_twice_sql()} AS twice FROM shaped
    ), refetched AS (
      SELECT *, CASE WHEN twice THEN json_transform(txt, '{_spec(_fragment_leaf)}') END AS jj
      FROM flagged
    ), frags AS (
      SELECT * EXCLUDE (jj),
        {", ".join(f"jj.{p} AS {_frag(p)}" for p in _all_paths() if _is_text(p))}
      FROM refetched
    ), vals AS (
      SELECT *, {_values_sql()}
      FROM frags
    ), timed AS (
      -- (a UTC time, `Z`, nearly all of them, is read as it is; an offset needs the time zone
      -- conversion, and a lowercase `t` or `z` the upper case, each a copy of every text)
      SELECT *, CASE WHEN NOT s_time THEN NULL
                     WHEN ends_with(v_time, 'Z') AND NOT contains(v_time, 't')
                     THEN try_cast({_to_microseconds("v_time")} AS TIMESTAMP)
                     ELSE timezone('UTC',
                                   try_cast({_to_microseconds("upper(v_time)")} AS TIMESTAMPTZ))
                END AS ts
      FROM vals
    ), judged AS (
      SELECT *, {_reason_sql()} AS reason FROM timed
    )
    SELECT eid, run_key, file_idx, file, line, reason,
      -- only a rejected record is stored verbatim: an accepted one lives in its columns
      CASE WHEN reason IS NOT NULL THEN raw END AS raw,
      v_source AS source, v_id AS id, v_type AS type, ts AS time,
      CASE WHEN {_of_types(USAGE_TYPES)} THEN v_subject END AS subject,
      {_only("campaign", "v_data_campaign")}, {_only("ip", "v_data_ip")},
      {_only("user_agent", "v_data_user_agent")},
      {_only("impression_id", "v_data_impression_id")},
      {_only("subscriber", "v_data_subscriber")}, {_only("destination", "v_data_destination")},
      {_quantity_sql()} AS quantity,
      {_only("session", "v_data_session_id", "session_id")},
      {_only("session", "try_cast(v_data_session_seq AS BIGINT)", "session_seq")},
      {_only("session", "try_cast(v_data_session_last AS BOOLEAN)", "session_last")},
      {_only("incident_id", "v_data_incident_id")}, {_only("service", "v_data_service")},
      {_only("state", "v_data_state")},
      coalesce({_only("planned", "try_cast(v_data_planned AS BOOLEAN)", "")}, false) AS planned,
      {_only("accounts", "json_extract_string(f_data_accounts, '$[*]')")},
      {_only("region", "v_data_region")}, {_only("ok", "try_cast(v_data_ok AS BOOLEAN)")},
      {_only("latency_ms", "try_cast(v_data_latency_ms AS DOUBLE)")},
      CASE WHEN reason IS NULL THEN hash(v_source, v_id) END AS key_hash, tbit
    FROM judged
    """
    # (the usage view's columns, computed from the canonical ones once they are named)
    return f"""
    SELECT *,
      CASE WHEN reason IS NULL THEN {period_sql(_of_types(USAGE_TYPES))} END AS period,
      CASE WHEN reason IS NULL THEN {PAIR_KEY_SQL} END AS pair_key,
      CASE WHEN reason IS NULL THEN {MINUTE_KEY_SQL} END AS minute_key
    FROM ({validated}) e
    """


def _only(field: str, expr: str, alias: str | None = None) -> str:
    """A data column, kept only for the types that define the field (elsewhere it is an extra
    field, kept in the input but not a column: an ad.click's `session` is no session)."""
    types = [t for t, fields in EVENT_FIELDS.items() if any(f.name == field for f in fields)]
    name = field if alias is None else alias
    sql = f"CASE WHEN {_of_types(types)} THEN {expr} END"
    return f"{sql} AS {name}" if name else sql


def _strict_json_object(text: str) -> bool:
    """Python's parser rejects NaN/Infinity (with parse_constant) and trailing commas."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return isinstance(value, dict)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The one Python function validation needs, called only on suspicious lines."""
    try:
        con.create_function(
            "strict_json_object", _strict_json_object, ["VARCHAR"], "BOOLEAN", side_effects=False
        )
    except duckdb.CatalogException:
        pass  # already registered on this connection
