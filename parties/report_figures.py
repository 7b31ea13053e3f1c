"""The figures of the pathway report: the flow diagram and the entry-rate bars.

The catalogue's flow table (:data:`SANKEY_TABLE`) counts mutually exclusive
pathway states of one grade-9 cohort; :data:`SANKEY_FLOWS` says which two states
each of its measures joins, so that every band of the diagram is one released
count. The bar charts show, per row of a breakdown table, the share of students
who entered college or university directly and at any time. Both read released
cells only, through :func:`released` and :func:`share_of_students`.
"""

from __future__ import annotations

from html import escape

from parties.charts import (
    Bar,
    BarSeries,
    SankeyFlow,
    SankeyNode,
    bar_chart_svg,
    count_text,
    percent_text,
    sankey_svg,
)
from parties.request import Request
from parties.table import ReleasedTable

# The flow diagram: its table, its pathway states, and the flow each measure is.
SANKEY_TABLE = "pathway_flow_2016"
SANKEY_NODES: tuple[SankeyNode, ...] = (
    SankeyNode("cohort", "Grade-9 cohort 2016", 0, "cohort"),
    SankeyNode("ossd", "OSSD", 1, "diploma"),
    SankeyNode("no_ossd", "No OSSD", 1, "none"),
    SankeyNode("direct", "Direct entry", 2, "entry"),
    SankeyNode("delayed", "Delayed entry", 2, "entry"),
    SankeyNode("no_entry_after", "No entry after diploma", 2, "none"),
    SankeyNode("entry_no_ossd", "Entry without diploma", 2, "entry"),
    SankeyNode("no_entry", "No entry", 2, "none"),
    SankeyNode("credential", "Credential", 3, "credential"),
    SankeyNode("no_credential", "No credential yet", 3, "none"),
)
SANKEY_ROOT = "cohort"
SANKEY_FLOWS: dict[str, tuple[str, str]] = {
    "ossd": ("cohort", "ossd"),
    "no_ossd": ("cohort", "no_ossd"),
    "ossd_direct": ("ossd", "direct"),
    "ossd_delayed": ("ossd", "delayed"),
    "ossd_no_entry": ("ossd", "no_entry_after"),
    "no_ossd_entry": ("no_ossd", "entry_no_ossd"),
    "no_ossd_no_entry": ("no_ossd", "no_entry"),
    "direct_credential": ("direct", "credential"),
    "direct_no_credential": ("direct", "no_credential"),
    "delayed_credential": ("delayed", "credential"),
    "delayed_no_credential": ("delayed", "no_credential"),
    "no_ossd_credential": ("entry_no_ossd", "credential"),
    "no_ossd_no_credential": ("entry_no_ossd", "no_credential"),
}

# Bar charts of entry rates: table -> chart title; the series are two measures.
RATE_CHARTS: dict[str, str] = {
    "pathways_by_quintile": "College or university entry by income quintile",
    "pathways_by_stream": "College or university entry by grade-9 math stream",
}
RATE_SERIES: tuple[tuple[str, str, str], ...] = (
    ("pse_direct", "Direct entry", "direct"),
    ("pse_any", "Entry at any time", "any"),
)

# Released figures


def released(table: ReleasedTable, cell: int, column: int) -> int | None:
    """A released count, or None where the cell is suppressed."""
    if table.suppressed[cell, column]:
        return None
    return int(table.values[cell, column])


def share_of_students(table: ReleasedTable, cell: int, column: int) -> float | None:
    """A count over its row's students, only when both are released and nonzero."""
    count = released(table, cell, column)
    students = released(table, cell, 0)
    if count is None or not students:
        return None
    return count / students


# Charts


def sankey_figure(request: Request, table: ReleasedTable) -> str:
    """The flow diagram of one cohort, from the flow measures' released counts."""
    flows = []
    for j, name in enumerate(table.columns):
        if name in SANKEY_FLOWS:
            source, target = SANKEY_FLOWS[name]
            label = table.column_labels[j]
            flows.append(SankeyFlow(source, target, released(table, 0, j), label))
    nodes = [
        SankeyNode(n.key, n.label, n.column, n.tone, released(table, 0, 0))
        if n.key == SANKEY_ROOT
        else n
        for n in SANKEY_NODES
    ]

    described = "; ".join(
        f"{flow.label}: "
        + ("suppressed" if flow.count is None else count_text(flow.count))
        for flow in flows
    )
    svg = sankey_svg(
        nodes,
        flows,
        title=f"Flow diagram: {table.title}",
        description=f"Students moving between pathway states. {described}.",
        chart_id=f"{request.name}-chart",
    )
    return (
        f'<figure class="chart-figure">{svg}<figcaption>Band widths are '
        "proportional to numbers of students; percentages are of the cohort. "
        "A hatched band is a suppressed flow: it is drawn at a fixed width that "
        "says nothing about its size.</figcaption></figure>"
    )


def rate_figure(request: Request, table: ReleasedTable) -> str:
    """Bars of entry rates per row, or nothing if the table lacks the measures."""
    column_of = {name: j for j, name in enumerate(table.columns)}
    if any(name not in column_of for name, _, _ in RATE_SERIES):
        return ""

    # One bar per row and series; a gap where the rate is not released.
    categories = [" / ".join(labels) for labels in table.cell_labels]
    series = []
    for name, label, tone in RATE_SERIES:
        bars = []
        for i in range(len(categories)):
            share = share_of_students(table, i, column_of[name])
            if share is not None:
                bars.append(Bar(share))
            elif released(table, i, 0) == 0:
                bars.append(Bar(None, "no students"))
            else:
                bars.append(Bar(None, "suppressed"))
        series.append(BarSeries(label, tuple(bars), tone))

    described = "; ".join(
        f"{category}: "
        + ", ".join(f"{one.label.lower()} {_bar_text(one.bars[i])}" for one in series)
        for i, category in enumerate(categories)
    )
    title = RATE_CHARTS[request.name]
    svg = bar_chart_svg(
        categories,
        series,
        title=title,
        description=f"Share of students entering college or university. {described}.",
        chart_id=f"{request.name}-chart",
    )
    return (
        f'<figure class="chart-figure"><p class="chart-title">{escape(title)}</p>'
        f"{svg}<figcaption>Percentage of each row's students. Direct entry: a "
        "program started in the diploma year or the next. A gap marked "
        "“suppressed” is a rate whose count or denominator was withheld; it is not "
        "zero.</figcaption></figure>"
    )


def _bar_text(bar: Bar) -> str:
    return bar.gap_label if bar.rate is None else percent_text(bar.rate)
