"""The CLI's JSON text is byte for byte `json.dumps(value, indent=1, ensure_ascii=False)`, on the
fast path (an array of flat objects) and off it."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from pipeline.json_text import dumps

SCALARS = st.one_of(
    st.text(),  # any code point: quotes, backslashes, control characters, U+2028, surrogates
    st.integers(),
    st.floats(),  # NaN and infinities too: json.dumps writes NaN / Infinity
    st.booleans(),
    st.none(),
)
FLAT = st.dictionaries(st.text(), SCALARS, min_size=1, max_size=6)


@given(st.lists(FLAT, min_size=1, max_size=8))
def test_flat_objects_match_json_dumps(value: list) -> None:
    assert dumps(value) == json.dumps(value, indent=1, ensure_ascii=False)


@given(
    st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=12,
    )
)
def test_any_value_matches_json_dumps(value: object) -> None:
    assert dumps(value) == json.dumps(value, indent=1, ensure_ascii=False)


def test_edge_shapes() -> None:
    flags = [
        {"source": 'ads"1', "id": "a\\b\u2028\x00\x7f", "type": "ad.click", "reason": None},
        {"source": "é", "id": "2", "n": 3, "ok": True, "x": 1.5},
    ]
    for value in ([], [{}], [{"a": 1}, {}], [{"a": [1]}], flags, {"input": 3}, [[1]]):
        assert dumps(value) == json.dumps(value, indent=1, ensure_ascii=False), value
