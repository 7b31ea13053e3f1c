"""The pathway report: the standard tables as one self-contained HTML page.

``crp report`` requests every table of the catalogue (``parties/catalogue``) and
writes ``report.html`` and one CSV per table. The report is built from released
tables only: each count it prints or draws is a released cell, and a percentage
is shown only where both its count and its denominator (the row's students) are
released. Suppressed cells appear as the suppression mark ``x`` with a footnote
naming the rule that withheld them, and charts draw them as labelled gaps.

The page needs nothing but itself: inline CSS, inline SVG charts drawn by
:mod:`parties.charts`, no script, no web font, no link that a browser fetches.
Each table states its population, its definitions, the disclosure rules applied
and the request digest, which the nodes' audit logs record for every session.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from html import escape
from importlib import resources
from pathlib import Path

import numpy as np

from mpc.errors import CrpError
from parties.charts import count_text, percent_text
from parties.report_figures import (
    RATE_CHARTS,
    SANKEY_TABLE,
    rate_figure,
    sankey_figure,
    share_of_students,
)
from parties.report_rules import (
    effective_rules,
    footnote_text,
    mark_html,
    mark_letter,
    rule_sentences,
)
from parties.report_style import REPORT_CSS
from parties.request import Dimension, Request
from parties.table import SUPPRESSED_MARK, ReleasedTable

REPORT_FILE = "report.html"
DEFAULT_TITLE = "From grade 9 to college, university and a credential"

# The standard tables, in the order the report shows them.
CATALOGUE: tuple[str, ...] = (
    "pathway_flow_2016",
    "pathways_by_cohort",
    "pathways_by_board",
    "pathways_by_gender",
    "pathways_by_quintile",
    "pathways_by_stream",
    "pathways_by_special_ed",
    "pathways_by_credits",
)


class ReportError(CrpError):
    """A report cannot be built from the tables it was given."""


def catalogue_text(name: str) -> str:
    """The TOML text of one catalogue request, e.g. ``pathways_by_quintile``."""
    if name not in CATALOGUE:
        raise ReportError(
            f"{name!r} is not in the catalogue; its tables are: {', '.join(CATALOGUE)}."
        )
    folder = resources.files("parties").joinpath("catalogue")
    return folder.joinpath(f"{name}.toml").read_text(encoding="utf-8")


def catalogue_texts() -> dict[str, str]:
    """Every catalogue request's TOML text, by name, in report order."""
    return {name: catalogue_text(name) for name in CATALOGUE}


def report_main(
    federation_path: Path, out_dir: Path, identity: Path | None = None
) -> int:
    """``crp report``: request every catalogue table, then write the report.

    ``identity`` is the coordinator's file prefix (``PREFIX.crt``, ``PREFIX.key``
    and ``ca.crt`` beside them); without it, the federation's only coordinator
    with its files in ``certs/`` beside the federation file. Returns the exit
    status; errors propagate as :class:`CrpError`.
    """
    from parties.coordinator import (
        default_identity,
        identity_from_prefix,
        request_table,
    )
    from parties.federation import load_federation
    from parties.request import parse_request_text

    federation = load_federation(federation_path)
    coordinator = (
        identity_from_prefix(identity)
        if identity is not None
        else default_identity(federation)
    )
    schemas = federation.schemas()

    # One MPC session per table, one after the other.
    tables: list[tuple[Request, ReleasedTable]] = []
    for number, (name, text) in enumerate(catalogue_texts().items(), start=1):
        request = parse_request_text(text, schemas, source=f"catalogue/{name}.toml")
        print(f"Table {number} of {len(CATALOGUE)}: {name} ...", end=" ", flush=True)
        started = time.perf_counter()
        table = request_table(federation, text, identity=coordinator, on_progress=None)
        print(f"{time.perf_counter() - started:.1f} s", flush=True)
        tables.append((request, table))

    path = build_report(tables, Path(out_dir))
    print(f"Report written to {path}")
    return 0


def build_report(
    tables: Sequence[tuple[Request, ReleasedTable]],
    out_dir: Path,
    *,
    title: str = DEFAULT_TITLE,
    notes: Sequence[str] = (),
) -> Path:
    """Write ``report.html`` and one CSV per table into ``out_dir``; return the page.

    Each table must be the release of its request: same name, columns and digest.
    """
    _check_tables(tables)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    # The CSV files first, so that the page can link to each of them.
    for request, table in tables:
        table.to_csv(out_dir / f"{request.name}.csv")

    sections = [_section(request, table) for request, table in tables]
    page = _page(title, notes, tables, sections)
    path = out_dir / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path


def _check_tables(tables: Sequence[tuple[Request, ReleasedTable]]) -> None:
    """Refuse a table that is not the release of the request it comes with."""
    if not tables:
        raise ReportError("A report needs at least one released table; none given.")
    names = [request.name for request, _ in tables]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ReportError(
            f"Tables {twice} are given twice; give each request once, since each "
            "table is written to a CSV file named after it."
        )
    for request, table in tables:
        columns = ("students", *(measure.name for measure in request.measures))
        if table.name != request.name or table.columns != columns:
            raise ReportError(
                f"Table {table.name!r} does not match request {request.name!r}: "
                "their names or columns differ; pass each table with its own request."
            )
        cells = len(request.full_cells())
        if len(table.cell_labels) != cells:
            raise ReportError(
                f"Table {table.name!r} has {len(table.cell_labels)} rows but its "
                f"request releases {cells}; it is not this request's release."
            )
        if table.digest and table.digest != request.digest:
            raise ReportError(
                f"Table {table.name!r} carries digest {table.digest[:12]}... but its "
                f"request's digest is {request.digest[:12]}...; the table was "
                "computed for another version of the request."
            )


def _mark(table: ReleasedTable, cell: int, column: int) -> str:
    """The suppression mark of a withheld cell, with its rule's footnote letter."""
    return mark_html(table.reason_of(cell, column) or "suppressed", title=True)


# Sections


def _section(request: Request, table: ReleasedTable) -> str:
    """One table: title, charts, the figures, footnotes, and what it is."""
    parts = [
        f'<section id="{escape(request.name)}">',
        f"<h2>{escape(table.title)}</h2>",
    ]
    if request.description.strip():
        parts.append(f'<p class="lede">{escape(_one_line(request.description))}</p>')

    if request.name == SANKEY_TABLE:
        parts.append(sankey_figure(request, table))
    if request.name in RATE_CHARTS:
        parts.append(rate_figure(request, table))

    if request.dimensions:
        parts.append("<h3>Percentage of students</h3>")
        parts.append(_grid(request, table, percentages=True))
        parts.append("<h3>Number of students</h3>")
        parts.append(_grid(request, table, percentages=False))
    else:
        parts.append(_column_list(request, table))
    parts.append(_footnotes(request, table))
    parts.append(_about(request, table))
    parts.append("</section>")
    return "\n".join(parts)


def _grid(request: Request, table: ReleasedTable, *, percentages: bool) -> str:
    """Rows are cells, columns the students then the measures."""
    head = "".join(
        f'<th scope="col" class="dim">{escape(d.label)}</th>'
        for d in request.dimensions
    )
    head += "".join(
        f'<th scope="col" class="num">{escape(label)}</th>'
        for label in table.column_labels
    )
    rows = []
    full_cells = request.full_cells()
    for i, labels in enumerate(table.cell_labels):
        cells = "".join(f'<th scope="row">{escape(label)}</th>' for label in labels)
        for j in range(len(table.columns)):
            cells += _figure_cell(table, i, j, percentage=percentages and j > 0)
        total = any(level.kind == "total" for level in full_cells[i])
        rows.append(f'<tr class="total">{cells}</tr>' if total else f"<tr>{cells}</tr>")
    kind = "percentages" if percentages else "counts"
    return (
        f'<div class="scroll"><table class="figures {kind}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _column_list(request: Request, table: ReleasedTable) -> str:
    """A one-cell table, turned on its side: one row per measure."""
    rows = []
    for j, label in enumerate(table.column_labels):
        count = _figure_cell(table, 0, j, percentage=False)
        share = _figure_cell(table, 0, j, percentage=True) if j else "<td></td>"
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{count}{share}</tr>')
    return (
        '<div class="scroll"><table class="figures list"><thead><tr>'
        '<th scope="col"></th><th scope="col" class="num">Students</th>'
        '<th scope="col" class="num">% of students</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _figure_cell(
    table: ReleasedTable, cell: int, column: int, *, percentage: bool
) -> str:
    """A count or a percentage; the suppression mark where it is not released."""
    if table.suppressed[cell, column]:
        return f'<td class="num withheld">{_mark(table, cell, column)}</td>'
    if not percentage:
        return f'<td class="num">{count_text(int(table.values[cell, column]))}</td>'
    if table.suppressed[cell, 0]:
        # The count is released but its denominator is not.
        return f'<td class="num withheld">{_mark(table, cell, 0)}</td>'
    share = share_of_students(table, cell, column)
    if share is None:
        return '<td class="num empty" title="No students in this row.">&ndash;</td>'
    return f'<td class="num">{percent_text(share)}</td>'


def _footnotes(request: Request, table: ReleasedTable) -> str:
    """One line per suppression rule that withheld a cell of this table."""
    rows, columns = np.nonzero(table.suppressed)
    found = {
        table.reason_of(int(i), int(j)) or "suppressed"
        for i, j in zip(rows, columns, strict=True)
    }
    rules = sorted(found, key=mark_letter)
    settings = effective_rules(request, table)
    lines = [
        f"<li>{mark_html(rule)} {escape(footnote_text(rule, settings))}.</li>"
        for rule in rules
    ]
    if not lines:
        lines = ["<li>No cell of this table was withheld.</li>"]
    lines.append(
        "<li>A percentage is of the row's students, and is shown only where both "
        "numbers are released.</li>"
    )
    return f'<ul class="footnotes">{"".join(lines)}</ul>'


def _about(request: Request, table: ReleasedTable) -> str:
    """Population, definitions, disclosure rules and digest, for tracing."""
    population = request.population
    partners = " and ".join(population.partners)
    text = f"Students with a record at {escape(partners)}, each counted once"
    if population.where_text:
        text += f", where <code>{escape(population.where_text)}</code>"
    linked = [p for p in request.partners_used() if p not in population.partners]
    if linked:
        text += f". Records linked from {escape(', '.join(linked))}"
    items = [("Population", text + ".")]

    for dim in request.dimensions:
        levels = escape(", ".join(level.label for level in dim.levels))
        if dim.total is not None:
            levels += f"; and {escape(dim.total.label)}, the total of these rows"
        items.append(
            (f"Rows: {dim.label}", f"{_dimension_source(request, dim)}: {levels}.")
        )

    definitions = "".join(
        f'<tr><th scope="row">{escape(m.label)}</th><td><code>'
        f"{escape(_one_line(m.text))}</code></td></tr>"
        for m in request.measures
    )
    items.append(("Definitions", f'<table class="definitions">{definitions}</table>'))
    items.append(("Disclosure rules", _disclosure(request, table)))
    digest = table.digest or request.digest
    items.append(
        (
            "Request",
            f"<code>{escape(request.name)}</code>, digest "
            f'<code class="digest">{escape(digest)}</code> (recorded in each '
            "node's audit log).",
        )
    )
    csv_name = f"{request.name}.csv"
    items.append(
        (
            "Data",
            f'<a href="{escape(csv_name)}">{escape(csv_name)}</a> '
            f"(suppressed cells written as {SUPPRESSED_MARK}).",
        )
    )
    rows = "".join(f"<dt>{escape(term)}</dt><dd>{body}</dd>" for term, body in items)
    return (
        '<details class="about" open><summary>About this table</summary>'
        f"<dl>{rows}</dl></details>"
    )


def _dimension_source(request: Request, dim: Dimension) -> str:
    """Where a dimension's value comes from, in words."""
    if dim.kind == "partner":
        partners = escape(", ".join(request.population.partners))
        return f"The first of {partners} that lists the student"
    column = f"<code>{escape(dim.ref.column)}</code>"
    if dim.ref.partner is None:
        return f"Column {column} of the population's records"
    return f"Column {column} of {escape(dim.ref.partner)}'s records"


def _disclosure(request: Request, table: ReleasedTable) -> str:
    """The rules applied, each with its mark and how many figures it withheld."""
    withheld = {
        rule: int((mask & table.suppressed).sum())
        for rule, mask in table.reasons.items()
    }
    lines = rule_sentences(
        effective_rules(request, table), withheld, table.suppressed.size
    )
    if not table.disclosure:
        lines.append("These are the rules of the request; the release lists none.")
    return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


# The page


def _page(
    title: str,
    notes: Sequence[str],
    tables: Sequence[tuple[Request, ReleasedTable]],
    sections: list[str],
) -> str:
    contents = "".join(
        f'<li><a href="#{escape(request.name)}">{escape(table.title)}</a></li>'
        for request, table in tables
    )
    note_items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    today = datetime.date.today().isoformat()
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{REPORT_CSS}</style>
</head>
<body>
<header>
<p class="kicker">Community research partnership &middot; pathway report</p>
<h1>{escape(title)}</h1>
<p class="meta">Produced on {today} from {len(tables)} released tables.</p>
</header>
<main>
<section class="intro">
<h2>How to read this report</h2>
<ul>
<li>Every figure comes from a table released by the partners' secure computation;
no one who prepared this report saw a student record.</li>
<li>A student is counted once even when several partners hold records of them.</li>
<li><span class="x">{SUPPRESSED_MARK}</span> marks a figure withheld to protect
privacy; its footnote letter names the rule. A withheld figure is not zero.</li>
<li>Percentages are of the row's students and appear only where both numbers are
released. Each table lists its definitions and the digest that identifies its
request in the partners' audit logs, and has a CSV file beside this page.</li>
{note_items}
</ul>
<nav aria-label="Tables"><h2>Tables</h2><ol>{contents}</ol></nav>
</section>
{"".join(sections)}
</main>
<footer>Produced with crp-mpc from released tables only.</footer>
</body>
</html>
"""


def _one_line(text: str) -> str:
    return " ".join(text.split())
