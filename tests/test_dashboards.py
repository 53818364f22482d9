"""The Grafana dashboards: each parses, imports as-is (datasource chosen by a variable), and
queries only metrics that pipeline/metrics.py exports; every exported metric is graphed somewhere
and documented in dashboards/README.md. A renamed metric fails here, not on a blank panel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import metrics

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "dashboards"
FILES = sorted(DASHBOARDS.glob("*.json"))
REQUIRED = {"throughput.json", "outcomes.json", "fraud.json", "revenue-assurance.json"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# The series names prometheus-client writes for each metric type (text format 0.0.4).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def exported() -> dict[str, str]:
    """Every series name the registry can expose -> its metric family's name."""
    names = {}
    for family in metrics.REGISTRY.collect():
        for suffix in SUFFIXES[family.type]:
            names[family.name + suffix] = family.name
    return names


# -- PromQL: the metric names an expression selects --------------------------------------------

STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
GRAFANA_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|\w+)")
MATCHERS = re.compile(r"\{[^}]*\}")
RANGE = re.compile(r"\[[^\]]*\]")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# An identifier that is neither part of a number or duration (`0.99`, `5m`, `1e3`) nor a
# function name (followed by `(`).
IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: what is left once strings, label matchers, ranges,
    grouping clauses, Grafana variables and function names are taken out."""
    text = STRING.sub(" ", expr)  # first: a label value may hold any of the characters below
    for pattern in (MATCHERS, RANGE, GROUPING, GRAFANA_VARIABLE):
        text = pattern.sub(" ", text)
    return {n for n in IDENTIFIER.findall(text) if n.lower() not in KEYWORDS}


def test_metric_names_reads_promql() -> None:
    """The checker itself: it must find selectors, and only them."""
    assert metric_names(
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="}", y=~"b|c"}[$__rate_interval])))'
    ) == {"a_bucket"}
    assert metric_names("time() - max(b_seconds > 0) offset 5m") == {"b_seconds"}
    assert metric_names('sum(c) / ignoring (z) sum(d{period="$period"}) and on() e') == {
        "c",
        "d",
        "e",
    }
    assert metric_names("1e3 * 0.5") == set()


# -- the dashboards ----------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside rows (a collapsed row holds its panels itself)."""
    for panel in container.get("panels", []):
        yield panel
        yield from panels(panel)


def expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} target {target.get('refId')}", target.get("expr", "")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        # label_values(SELECTOR, label) and query_result(EXPR) wrap PromQL.
        if m := re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query):
            query = m.group(1)
        elif m := re.fullmatch(r"\s*query_result\((.*)\)\s*", query):
            query = m.group(1)
        yield f"variable {variable['name']!r}", query


def test_the_documented_dashboards_exist() -> None:
    assert REQUIRED <= {p.name for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_imports_as_is(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["schemaVersion"] >= 36, "Grafana 9+ format"
    assert dashboard["id"] is None, "an exported id would overwrite another dashboard on import"
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']!r} is wider than the grid"
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


def test_dashboard_uids_are_unique() -> None:
    uids = [load(p)["uid"] for p in FILES]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_queried_metric_is_exported(path: Path) -> None:
    names = exported()
    for where, expr in expressions(load(path)):
        used = metric_names(expr)
        assert used, f"{path.name}: {where} queries no metric: {expr!r}"
        unknown = used - names.keys()
        assert not unknown, f"{path.name}: {where} queries {sorted(unknown)}, not in metrics.py"


def test_every_metric_is_graphed_and_documented() -> None:
    names = exported()
    graphed = {
        names[n]
        for path in FILES
        for _, expr in expressions(load(path))
        for n in metric_names(expr)
        if n in names
    }
    families = set(names.values())
    assert families - graphed == set(), "metrics no dashboard shows"
    readme = (DASHBOARDS / "README.md").read_text(encoding="utf-8")
    documented = {
        family
        for name, family in names.items()
        for word in (name, family)
        if re.search(rf"(?<![\w:]){word}(?![\w:])", readme)
    }
    undocumented = families - documented
    assert undocumented == set(), "metrics dashboards/README.md does not name"
