"""Tests of the pathway report, built from tables of the plaintext reference.

The last tests open the report in headless Chromium (Debian's ``chromium``
package, installed by ``scripts/install_chromium.sh`` when missing). They drive
the browser over the DevTools protocol on a pipe, load the page in a browser
context whose proxy is a local recorder, and check that the charts drew and
that the page asked for nothing but itself.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tomli_w

from parties.data import load_partner_data
from parties.reference import reference_table
from parties.report import (
    CATALOGUE,
    ReportError,
    build_report,
    catalogue_text,
    report_main,
)
from parties.report_figures import RATE_CHARTS, RATE_SERIES, SANKEY_TABLE
from parties.request import Request, parse_request_text
from parties.schema import Schema
from parties.synth import PARTNER_SCHEMAS, synthetic_schemas, write_synthetic_data
from parties.table import ReleasedTable

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
HIDDEN = 987654  # the true value planted under every suppressed cell
MARKS = {"min_cell_size": "a", "complement": "b", "complementary": "c"}
TRAMPOLINE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)

Tables = list[tuple[Request, ReleasedTable]]


# Tables and reports


@pytest.fixture(scope="module")
def schemas() -> dict[str, Schema]:
    by_schema = synthetic_schemas()
    return {partner: by_schema[name] for partner, name in PARTNER_SCHEMAS.items()}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small synthetic partner files, with their schemas in ``schemas/``."""
    folder = tmp_path_factory.mktemp("data")
    write_synthetic_data(folder, seed=5, scale=0.05)
    return folder


@pytest.fixture(scope="module")
def frames(data_dir: Path, schemas: dict[str, Schema]) -> dict[str, pd.DataFrame]:
    return {
        partner: load_partner_data(data_dir / f"{partner}.csv", schema).frame
        for partner, schema in schemas.items()
    }


@pytest.fixture(scope="module")
def released_tables(
    schemas: dict[str, Schema], frames: dict[str, pd.DataFrame]
) -> Tables:
    """The catalogue as the reference releases it on small synthetic data."""
    tables = []
    for name in CATALOGUE:
        request = parse_request_text(catalogue_text(name), schemas, source=name)
        tables.append((request, reference_table(request, frames, schemas=schemas)))
    return tables


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, released_tables: Tables) -> Path:
    return build_report(released_tables, tmp_path_factory.mktemp("report"))


def _withheld_tables(tables: Tables, hidden: int) -> Tables:
    """The catalogue with more cells withheld, every withheld count set to hidden."""
    extra = {
        SANKEY_TABLE: [
            (0, "no_ossd_entry", "min_cell_size"),
            (0, "delayed_credential", "complementary"),
        ],
        "pathways_by_cohort": [(3, "ossd", "complement")],
        "pathways_by_quintile": [
            (0, "students", "complementary"),
            (2, "pse_any", "min_cell_size"),
        ],
        "pathways_by_stream": [(1, "pse_any", "complementary")],
    }
    return [
        (request, _withhold(table, extra.get(request.name, []), hidden))
        for request, table in tables
    ]


def _withhold(
    table: ReleasedTable, cells: list[tuple[int, str, str]], hidden: int
) -> ReleasedTable:
    """A copy of a table with more cells withheld by the given rules."""
    suppressed = table.suppressed.copy()
    reasons = {rule: mask.copy() for rule, mask in table.reasons.items()}
    for row, column, rule in cells:
        j = table.columns.index(column)
        suppressed[row, j] = True
        for mask in reasons.values():
            mask[row, j] = False
        reasons.setdefault(rule, np.zeros_like(suppressed))[row, j] = True
    values = np.where(suppressed, hidden, table.values)
    return dataclasses.replace(
        table, values=values, suppressed=suppressed, reasons=reasons
    )


@pytest.fixture(scope="module")
def withheld_report(
    tmp_path_factory: pytest.TempPathFactory, released_tables: Tables
) -> Path:
    tables = _withheld_tables(released_tables, HIDDEN)
    return build_report(tables, tmp_path_factory.mktemp("withheld"))


class _Tables(HTMLParser):
    """Collects the text of every table cell, by section id and table class."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.tables: dict[tuple[str, str], list[list[str]]] = {}
        self.rows: list[list[str]] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "section":
            self.section = attributes.get("id") or ""
        elif tag == "table":
            key = (self.section, attributes.get("class") or "")
            self.rows = self.tables.setdefault(key, [])
        elif tag == "tr" and self.rows is not None:
            self.rows.append([])
        elif tag in ("td", "th") and self.rows is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.rows is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.rows = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def _html_tables(path: Path) -> dict[tuple[str, str], list[list[str]]]:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tables


def _expected_count(table: ReleasedTable, row: int, column: int) -> str:
    if table.suppressed[row, column]:
        return "x" + MARKS.get(table.reason_of(row, column) or "", "d")
    return f"{int(table.values[row, column]):,}"


# CSV files


def test_writes_each_table_as_csv_with_x_where_suppressed(
    report: Path, released_tables: Tables
) -> None:
    suppressed_seen = 0
    for request, table in released_tables:
        frame = pd.read_csv(
            report.parent / f"{request.name}.csv", dtype=str, keep_default_na=False
        )

        labels = [dim.label for dim in request.dimensions]
        assert list(frame.columns[-len(table.columns) :]) == list(table.columns)
        if labels:
            rows = frame[labels].itertuples(index=False, name=None)
            assert [tuple(r) for r in rows] == table.cell_labels
        for j, column in enumerate(table.columns):
            expected = [
                "x" if table.suppressed[i, j] else str(table.values[i, j])
                for i in range(len(table.cell_labels))
            ]
            assert frame[column].tolist() == expected, (request.name, column)
        suppressed_seen += int(table.suppressed.sum())

    assert suppressed_seen > 0, "the small data should give some suppressed cells"


# Counts, percentages and suppression in the page


def test_shows_released_counts_and_marks_each_suppressed_cell_with_its_rule(
    withheld_report: Path, released_tables: Tables
) -> None:
    tables = _withheld_tables(released_tables, HIDDEN)

    html_tables = _html_tables(withheld_report)

    for request, table in tables:
        if not request.dimensions:
            rows = html_tables[(request.name, "figures list")][1:]
            shown = [row[1] for row in rows]
            expected = [_expected_count(table, 0, j) for j in range(len(table.columns))]
        else:
            rows = html_tables[(request.name, "figures counts")][1:]
            shown = [cell for row in rows for cell in row[len(request.dimensions) :]]
            expected = [
                _expected_count(table, i, j)
                for i in range(len(table.cell_labels))
                for j in range(len(table.columns))
            ]
        assert shown == expected, request.name


def test_hidden_counts_of_suppressed_cells_never_reach_the_page(
    withheld_report: Path, released_tables: Tables, tmp_path: Path
) -> None:
    other = build_report(_withheld_tables(released_tables, 3), tmp_path)

    page = withheld_report.read_text(encoding="utf-8")

    assert str(HIDDEN) not in page and f"{HIDDEN:,}" not in page
    assert page == other.read_text(encoding="utf-8")


def test_shows_a_percentage_only_where_count_and_denominator_are_released(
    released_tables: Tables, tmp_path: Path
) -> None:
    request, table = next(
        (r, t) for r, t in released_tables if r.name == "pathways_by_quintile"
    )
    table = _withhold(
        table, [(0, "students", "complementary"), (1, "ossd", "min_cell_size")], 7
    )
    table.values[5, :] = 0
    table.suppressed[5, :] = False

    path = build_report([(request, table)], tmp_path)

    rows = _html_tables(path)[(request.name, "figures percentages")][1:]
    for i, row in enumerate(rows):
        for j, shown in enumerate(row[2:], start=1):
            if table.suppressed[i, j]:
                expected = _expected_count(table, i, j)
            elif table.suppressed[i, 0]:
                expected = "xc"
            elif table.values[i, 0] == 0:
                expected = "\N{EN DASH}"
            else:
                expected = f"{100 * table.values[i, j] / table.values[i, 0]:.1f}%"
            assert shown == expected, (i, j)
    assert rows[0][1] == "xc" and rows[1][2] == "xa"


def test_page_references_no_external_resource(withheld_report: Path) -> None:
    page = withheld_report.read_text(encoding="utf-8")

    assert not re.search(r"https?:|//[a-z0-9]", page, re.IGNORECASE)
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"\bsrc\s*=|@import|@font-face", page, re.IGNORECASE)
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {
        f"#{name}-chart-hatch" for name in CATALOGUE
    }
    for href in re.findall(r'href="([^"]*)"', page):
        assert href.startswith("#") or re.fullmatch(r"[a-z0-9_]+\.csv", href), href


def test_each_table_states_population_definitions_rules_and_digest(
    report: Path, released_tables: Tables
) -> None:
    page = report.read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, re.S))

    for request, _ in released_tables:
        section = sections[request.name]
        assert request.digest in section
        assert ">Population<" in section and ">Definitions<" in section
        assert "board_a and board_b" in section
        assert escape(request.population.where_text) in section
        for measure in request.measures:
            assert escape(" ".join(measure.text.split())) in section
            assert escape(measure.label) in section
        assert "Minimum cell size 10: a count from 1 to 9 is withheld" in section
        assert f'href="{request.name}.csv"' in section


# Charts


def _chart(page: str, name: str) -> str:
    found = re.search(rf'<svg class="chart" id="{name}-chart".*?</svg>', page, re.S)
    assert found is not None, name
    return found.group(0)


def test_flow_diagram_widths_follow_released_counts_and_flag_suppressed_flows(
    withheld_report: Path, released_tables: Tables
) -> None:
    tables = _withheld_tables(released_tables, HIDDEN)
    table = next(t for r, t in tables if r.name == SANKEY_TABLE)
    withheld = {
        f"{label}: suppressed"
        for j, label in enumerate(table.column_labels)
        if j and table.suppressed[0, j]
    }

    svg = _chart(withheld_report.read_text(encoding="utf-8"), SANKEY_TABLE)

    bands = re.findall(r'data-thickness="([\d.]+)"><title>[^<]*: ([\d,]+)<', svg)
    ratios = [float(width) / int(count.replace(",", "")) for width, count in bands]
    assert len(bands) + len(withheld) == len(table.columns) - 1
    assert max(ratios) - min(ratios) < 1e-3 * max(ratios)
    flagged = re.findall(r'<g class="flow suppressed">.*?<title>([^<]*)</title>', svg)
    assert set(flagged) == withheld and len(flagged) == len(withheld) >= 2
    assert svg.count(">suppressed</text>") == len(withheld)


def test_bar_charts_show_a_withheld_rate_as_a_labelled_gap(
    withheld_report: Path, released_tables: Tables
) -> None:
    page = withheld_report.read_text(encoding="utf-8")

    for request, table in _withheld_tables(released_tables, HIDDEN):
        if request.name not in RATE_CHARTS:
            continue
        columns = [table.columns.index(name) for name, _, _ in RATE_SERIES]
        bars = [(i, j) for i in range(len(table.cell_labels)) for j in columns]
        gaps = [(i, j) for i, j in bars if table.suppressed[i, [0, j]].any()]
        svg = _chart(page, request.name)

        assert gaps, "the withheld tables must leave some gaps to draw"
        assert svg.count('<rect class="bar') == len(bars) - len(gaps)
        assert svg.count(">suppressed</text>") == len(gaps)
        assert "<title id=" in svg and "<desc id=" in svg


# Refusals


def test_refuses_a_table_released_for_another_request(
    released_tables: Tables, tmp_path: Path
) -> None:
    request, table = released_tables[1]
    table = dataclasses.replace(table, digest="0" * 64)

    with pytest.raises(ReportError, match="computed for another version"):
        build_report([(request, table)], tmp_path)


def test_refuses_the_same_table_twice(released_tables: Tables, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="given twice"):
        build_report([released_tables[0], released_tables[0]], tmp_path)


# The command


def test_report_main_requests_every_catalogue_table_and_writes_the_report(
    data_dir: Path,
    schemas: dict[str, Schema],
    frames: dict[str, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import parties.coordinator

    nodes = []
    for i, name in enumerate([*PARTNER_SCHEMAS, "foundation", "council"]):
        node = {"name": name, "mpc_port": 9100 + i, "control_port": 9200 + i}
        if name in PARTNER_SCHEMAS:
            node["schema"] = f"schemas/{PARTNER_SCHEMAS[name]}.toml"
        nodes.append(node)
    federation = data_dir / "federation.toml"
    document = {"federation": {"name": "test"}, "nodes": nodes}
    federation.write_text(tomli_w.dumps(document), encoding="utf-8")
    asked: list[tuple[str, object]] = []

    def request_table(
        federation: object, text: str, *, identity: object, on_progress: object
    ) -> ReleasedTable:
        request = parse_request_text(text, schemas)
        asked.append((request.name, identity))
        return reference_table(request, frames, schemas=schemas)

    monkeypatch.setattr(parties.coordinator, "request_table", request_table)
    monkeypatch.setattr(parties.coordinator, "default_identity", lambda f: "me")

    status = report_main(federation, tmp_path / "out")

    assert status == 0
    assert asked == [(name, "me") for name in CATALOGUE]
    assert (tmp_path / "out" / "report.html").is_file()
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.csv")) == sorted(CATALOGUE)
    assert str(tmp_path / "out" / "report.html") in capsys.readouterr().out


# Headless Chromium


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed by the project's script when it is missing."""
    script = ROOT / "scripts" / "install_chromium.sh"
    result = subprocess.run(
        ["sh", str(script)], capture_output=True, text=True, timeout=1200
    )
    if result.returncode != 0 or not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is needed for the browser test and could not be installed: "
            f"{result.stderr.strip() or 'no message'}"
        )
    return CHROMIUM


class _RecordingProxy:
    """A local HTTP proxy that records each request line and answers 403."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.seen: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    first = connection.recv(65536).split(b"\r\n", 1)[0]
                    connection.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                except OSError:
                    first = b"(connection without a request line)"
                self.seen.append(first.decode("latin-1"))

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.server.close()


class _Browser:
    """Headless Chromium driven over --remote-debugging-pipe (file descriptors 3, 4)."""

    def __init__(self, executable: Path, profile: Path, proxy_port: int) -> None:
        # Chromium reads commands on descriptor 3 and writes replies on 4. A tiny
        # Python trampoline puts the pipe ends there, then becomes Chromium. The
        # ends are first moved above 9 so that neither lands on 3 or 4 by chance.
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()
        commands_read = _above_nine(commands_read)
        replies_write = _above_nine(replies_write)
        arguments = [
            str(executable),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            # Whatever the browser itself sends goes to a local sink, not out.
            f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>",
        ]
        self.log = open(profile / "chromium.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                TRAMPOLINE,
                str(commands_read),
                str(replies_write),
                *arguments,
            ],
            pass_fds=(commands_read, replies_write),
            stdout=self.log,
            stderr=self.log,
        )
        os.close(commands_read)
        os.close(replies_write)
        self.buffer = b""
        self.last_id = 0
        self.events: list[dict[str, Any]] = []

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str = ""
    ) -> dict[str, Any]:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method}
        message["params"] = params or {}
        if session:
            message["sessionId"] = session
        try:
            os.write(self.commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError as error:
            stopped = f"Chromium has stopped; its log ends:\n{self.tail()}"
            raise RuntimeError(stopped) from error
        while True:
            reply = self._read()
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        while not any(
            e.get("method") == method and e.get("sessionId") == session
            for e in self.events
        ):
            self.events.append(self._read())

    def settle(self, seconds: float) -> None:
        """Collect events for a while, for requests that come late."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.events.append(self._read(deadline - time.monotonic()))
            except TimeoutError:
                return

    def _read(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.replies], [], [], left)[0]:
                raise TimeoutError("Chromium sent nothing in time.")
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed its DevTools pipe.")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def tail(self) -> str:
        """The last lines Chromium wrote, to explain a failure."""
        self.log.flush()
        lines = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(lines[-15:])

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.commands)
        os.close(self.replies)
        self.log.close()


def _above_nine(fd: int) -> int:
    """Duplicate a file descriptor to a number above 9 and close the original."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


@dataclasses.dataclass
class _Visit:
    """A page loaded in its own browser context, behind its own recording proxy."""

    browser: _Browser
    session: str
    proxy: _RecordingProxy

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.browser.events
            if e.get("method") == "Network.requestWillBeSent"
            and e.get("sessionId") == self.session
        ]

    def evaluate(self, expression: str) -> Any:
        result = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            self.session,
        )
        return result["result"].get("value")

    def screenshot(self, box: dict[str, float]) -> bytes:
        clip = {**box, "scale": 1}
        params = {"format": "png", "clip": clip, "captureBeyondViewport": True}
        shot = self.browser.call("Page.captureScreenshot", params, self.session)
        return base64.b64decode(shot["data"])


@pytest.fixture
def browse(chromium: Path) -> Iterator[Any]:
    """Open pages in headless Chromium; each page gets a fresh context and proxy."""
    sink = _RecordingProxy()
    proxies: list[_RecordingProxy] = []
    with tempfile.TemporaryDirectory() as profile:
        browser = _Browser(chromium, Path(profile), sink.port)

        def visit(url: str) -> _Visit:
            proxy = _RecordingProxy()
            proxies.append(proxy)
            context = browser.call(
                "Target.createBrowserContext",
                {
                    "proxyServer": f"http://127.0.0.1:{proxy.port}",
                    "proxyBypassList": "<-loopback>",
                },
            )["browserContextId"]
            target = browser.call(
                "Target.createTarget",
                {"url": "about:blank", "browserContextId": context},
            )["targetId"]
            session = browser.call(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )["sessionId"]
            for method in ("Network.enable", "Page.enable"):
                browser.call(method, session=session)
            metrics = {"width": 1100, "height": 900, "deviceScaleFactor": 1}
            browser.call(
                "Emulation.setDeviceMetricsOverride",
                {**metrics, "mobile": False},
                session,
            )
            browser.call("Page.navigate", {"url": url}, session)
            browser.wait_for("Page.loadEventFired", session)
            browser.settle(0.5)
            return _Visit(browser, session, proxy)

        try:
            yield visit
        finally:
            browser.close()
            for proxy in [*proxies, sink]:
                proxy.close()


CHART_GEOMETRY = """
Array.from(document.querySelectorAll("svg.chart")).map((svg) => {
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll("path.band, rect.bar, .node rect"));
  const meant = marks.filter((mark) => mark.tagName === "path"
    ? !(parseFloat(mark.dataset.thickness) === 0)
    : parseFloat(mark.getAttribute("width")) > 0
      && parseFloat(mark.getAttribute("height")) > 0);
  const drawn = meant.filter((mark) => {
    const size = mark.getBoundingClientRect();
    const style = getComputedStyle(mark);
    return size.width > 0 && size.height > 0 && style.visibility === "visible"
      && style.display !== "none" && style.fill !== "none";
  });
  return {
    id: svg.id,
    box: {x: box.left + scrollX, y: box.top + scrollY, width: box.width,
          height: box.height},
    meant: meant.length,
    drawn: drawn.length,
    title: svg.querySelector(":scope > title")?.textContent ?? "",
    desc: svg.querySelector(":scope > desc")?.textContent ?? "",
  };
})
"""


def test_report_draws_its_charts_in_chromium_without_any_network_request(
    browse: Any, withheld_report: Path
) -> None:
    url = withheld_report.as_uri()

    page = browse(url)
    charts = page.evaluate(CHART_GEOMETRY)

    assert [c["id"] for c in charts] == [
        "pathway_flow_2016-chart",
        "pathways_by_quintile-chart",
        "pathways_by_stream-chart",
    ]
    for chart in charts:
        assert chart["box"]["width"] > 600 and chart["box"]["height"] > 100
        assert chart["drawn"] == chart["meant"] >= 3, chart["id"]
        assert chart["title"] and chart["desc"]

        # The chart's area must change when the chart is hidden: it painted.
        drawn = page.screenshot(chart["box"])
        page.evaluate(f'document.getElementById("{chart["id"]}").style.opacity = 0')
        blank = page.screenshot(chart["box"])
        assert drawn != blank, chart["id"]
    assert page.requests() == [url]
    assert page.proxy.seen == []


def test_browser_check_notices_a_page_that_fetches_resources(
    browse: Any, tmp_path: Path
) -> None:
    control = tmp_path / "control.html"
    control.write_text(
        '<!doctype html><title>control</title><img src="http://crp.invalid/a.png">'
        '<link rel="stylesheet" href="https://crp.invalid/b.css">',
        encoding="utf-8",
    )

    page = browse(control.as_uri())

    assert "http://crp.invalid/a.png" in page.requests()
    assert any("crp.invalid" in line for line in page.proxy.seen)
