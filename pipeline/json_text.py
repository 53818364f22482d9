"""The JSON text the CLI prints: exactly `json.dumps(value, indent=1, ensure_ascii=False)`.

With `indent`, Python's json module encodes with its pure-Python encoder: 0.36-0.55 s for the
92,000 flags of a 10M-record warehouse, a third of `export flags`. An array of flat objects (the
shape of the flags export) is rendered here from the C string encoder instead, in about half
the time; anything else goes to `json.dumps`. The text is the same either way
(tests/test_json_text.py).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

_CONSTANTS = {None: "null", True: "true", False: "false"}


class _NotFlat(Exception):
    """The value is not an array of flat objects: json.dumps renders it."""


def dumps(value: Any) -> str:
    """`value` as the CLI prints it (see the module docstring)."""
    if type(value) is list and value:
        try:
            return "[\n" + ",\n".join(_object(d) for d in value) + "\n]"
        except _NotFlat:
            pass
    return json.dumps(value, indent=1, ensure_ascii=False)


def _object(d: Any) -> str:
    if type(d) is not dict or not d:
        raise _NotFlat
    return " {\n" + ",\n".join(f"  {_text(k)}: {_scalar(v)}" for k, v in d.items()) + "\n }"


def _text(k: Any) -> str:
    if type(k) is not str:
        raise _NotFlat
    return encode_basestring(k)  # type: ignore[no-any-return]


def _scalar(v: Any) -> str:
    t = type(v)
    if t is str:
        return encode_basestring(v)  # type: ignore[no-any-return]
    if t is int or t is float:
        return json.dumps(v)
    if v is None or t is bool:
        return _CONSTANTS[v]
    raise _NotFlat
