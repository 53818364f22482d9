"""`pipeline export statement --format html`: the advertiser's page, on the worked example.

The page must carry the JSON statement's numbers, the daily click counts, nothing from the
network, and must actually render: headless Chromium takes a screenshot and the test decodes
the PNG and looks for the chart's bar colours.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from worked_example import EXAMPLE, expected, fails, ok, replay_example

from pipeline.html_statement import DayClicks, render

pytestmark = pytest.mark.skipif(not EXAMPLE.is_dir(), reason=f"worked example not at {EXAMPLE}")

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts" / "install-test-deps.sh"
BILLABLE_RGB = (0x25, 0x63, 0xEB)  # --billable in html_statement.CSS
INVALID_RGB = (0xE4, 0x57, 0x2E)  # --invalid


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay_example(tmp_path_factory.mktemp("html") / "wh")


@pytest.fixture(scope="module")
def acme_page(wh: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "acme-2026-10.html"
    ok(
        "export",
        "statement",
        "--warehouse",
        wh,
        "--period",
        "2026-10",
        "--account",
        "acme",
        "--format",
        "html",
        "--out",
        out,
    )
    return out


class Cells(HTMLParser):
    """Rows of the campaign table (each cell as its text pieces) and the chart's day groups."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[list[str]]] = []
        self.days: list[dict[str, str]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []
            self.rows[-1].append(self._cell)
        elif tag == "g" and a.get("class") == "day":
            self.days.append({k: v or "" for k, v in a.items()})

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and data.strip():
            self._cell.append(data.strip())


def parse(page: str) -> Cells:
    cells = Cells()
    cells.feed(page)
    return cells


# -- content --------------------------------------------------------------------------------


def test_campaign_table_has_the_json_statements_numbers(acme_page: Path) -> None:
    cells = parse(acme_page.read_text(encoding="utf-8"))
    want = expected("statements-2026-10.json")["acme"]["campaigns"]
    assert len(cells.rows) == len(want) == 7
    for row, c in zip(cells.rows, want, strict=True):
        invalid = c["invalid_clicks"]
        why = [", ".join(f"{r} {n}" for r, n in invalid.items())] if invalid else []
        assert row == [
            [c["campaign"]],
            [str(c["impressions"])],
            [str(c["invalid_impressions"])],
            [str(c["clicks"])],
            [str(sum(invalid.values())), *why],
            [str(c["billable_clicks"])],
            [c["amount"]],
        ]


def test_header_names_account_period_and_currency(acme_page: Path) -> None:
    page = acme_page.read_text(encoding="utf-8")
    assert '<dd id="account">acme</dd>' in page
    assert '<dd id="period">2026-10</dd>' in page
    assert '<dd id="currency">EUR</dd>' in page
    assert "<th class=num>Amount (EUR)</th>" in page


def test_chart_counts_billable_and_invalid_clicks_per_utc_day(acme_page: Path) -> None:
    days = parse(acme_page.read_text(encoding="utf-8")).days
    assert [d["data-day"] for d in days] == [f"2026-10-{n:02d}" for n in range(1, 32)]
    counts = {d["data-day"]: (int(d["data-billable"]), int(d["data-invalid"])) for d in days}
    # Totals: acme's billable_clicks (2+3+8+1+5) and invalid clicks (4+3+4) in the statement.
    assert sum(b for b, _ in counts.values()) == 19
    assert sum(i for _, i in counts.values()) == 11
    # From the event files: the 8 `edge` clicks all fall on 10-13; the 3 `burst` clicks of
    # 12 Oct 15:30 are ip_velocity; on 10-04 three orphan clicks (cli-0000005/7/9) and the
    # CSV's billable cli-0000185.
    assert counts["2026-10-13"] == (8, 0)
    assert counts["2026-10-12"] == (0, 3)
    assert counts["2026-10-04"] == (1, 3)
    assert counts["2026-10-02"] == (0, 0)


def test_page_is_self_contained(acme_page: Path) -> None:
    page = acme_page.read_text(encoding="utf-8")
    for outside in (
        "<script",
        "<link",
        "<img",
        "<iframe",
        "@import",
        "url(",
        "http:",
        "https:",
        "//fonts",
        "src=",
    ):
        assert outside not in page.lower(), outside
    assert "default-src 'none'; style-src 'unsafe-inline'" in page
    assert page.count("<svg") == 1


def test_an_account_without_ads_gets_an_empty_page(wh: Path) -> None:
    page = ok(
        "export",
        "statement",
        "--warehouse",
        wh,
        "--period",
        "2026-10",
        "--account",
        "initech",
        "--format",
        "html",
    ).stdout
    cells = parse(page)
    assert cells.rows == []
    assert "No clicks or impressions in this period." in page
    assert "No clicks in this period" in page
    assert len(cells.days) == 31
    assert '<dd id="currency">PLN</dd>' in page


def test_the_page_is_the_same_bytes_while_nothing_changed(wh: Path, acme_page: Path) -> None:
    again = ok(
        "export",
        "statement",
        "--warehouse",
        wh,
        "--period",
        "2026-10",
        "--account",
        "acme",
        "--format",
        "html",
    ).stdout
    assert again == acme_page.read_text(encoding="utf-8")


def test_json_stays_the_default_and_unchanged(wh: Path, tmp_path: Path) -> None:
    args = ("export", "statement", "--warehouse", wh, "--period", "2026-10", "--account", "acme")
    default = ok(*args).stdout
    assert json.loads(default) == expected("statements-2026-10.json")["acme"]
    assert ok(*args, "--format", "json").stdout == default
    ok(*args, "--out", tmp_path / "st.json")
    assert (tmp_path / "st.json").read_text(encoding="utf-8") == default


def test_unknown_account_and_format_are_refused(wh: Path, tmp_path: Path) -> None:
    err = fails(
        "export",
        "statement",
        "--warehouse",
        wh,
        "--period",
        "2026-10",
        "--account",
        "nobody",
        "--format",
        "html",
        "--out",
        tmp_path / "x.html",
    )
    assert "unknown account `nobody`" in err
    assert not (tmp_path / "x.html").exists()
    err = fails(
        "export",
        "statement",
        "--warehouse",
        wh,
        "--period",
        "2026-10",
        "--account",
        "acme",
        "--format",
        "pdf",
        code=2,
    )
    assert "'pdf' is not one of 'json', 'html'" in err


def test_names_are_escaped() -> None:
    statement = {
        "account": "a<b>",
        "period": "2026-02",
        "currency": "EUR",
        "campaigns": [
            {
                "campaign": "<script>x</script>&",
                "impressions": 1,
                "invalid_impressions": 0,
                "clicks": 0,
                "invalid_clicks": {},
                "billable_clicks": 0,
                "amount": "0.00",
            }
        ],
    }
    page = render(statement, [DayClicks(date(2026, 2, 1), 0, 0)])
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;&amp;" in page
    assert '<dd id="account">a&lt;b&gt;</dd>' in page


# -- rendering in a real browser -------------------------------------------------------------


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        # The test setup: install Debian's chromium when it is missing (needs root and apt).
        proc = subprocess.run(["sh", str(INSTALL)], capture_output=True, text=True, timeout=1800)
        found = find_chromium()
        if found is None:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            pytest.skip(
                f"chromium not found, and {INSTALL.name} could not install it "
                f"(exit {proc.returncode}): {' | '.join(tail)}"
            )
    return found


def screenshot(chromium: str, page: Path, png: Path, profile: Path, size: str = "1200,900") -> None:
    """Headless, offline Chromium: nothing but the file is loaded."""
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        f"--window-size={size}",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert png.is_file(), f"no screenshot (exit {proc.returncode}):\n{proc.stderr[-2000:]}"


def png_rgb(data: bytes) -> np.ndarray:
    """Pixels (h, w, 3) of an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, prev, bpp)
        rows.append(bytes(line))
        prev = line
    pixels = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, bpp)
    return pixels[:, :, :3]


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    """Undo one scanline's PNG filter in place (PNG spec section 9)."""
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 2:
            line[i] = (line[i] + up) & 255
        elif kind == 3:
            line[i] = (line[i] + ((left + up) >> 1)) & 255
        elif kind == 4:
            corner = prev[i - bpp] if i >= bpp else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + pred) & 255


def pixels_of(rgb: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(rgb == np.array(colour, dtype=np.uint8), axis=2).sum())


def test_renders_in_headless_chromium(chromium: str, acme_page: Path, tmp_path: Path) -> None:
    png = tmp_path / "statement.png"
    screenshot(chromium, acme_page, png, tmp_path / "profile")
    data = png.read_bytes()
    assert len(data) > 10_000, f"screenshot only {len(data)} bytes"
    rgb = png_rgb(data)
    assert rgb.shape == (900, 1200, 3)
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 20, f"only {len(colours)} colours: the page did not render"
    # Bars drawn: the chart's two fills appear, the billable one on 12 days (19 clicks).
    assert pixels_of(rgb, BILLABLE_RGB) > 2_000
    assert pixels_of(rgb, INVALID_RGB) > 1_000
