"""Inline SVG charts for the pathway report: a flow (Sankey) diagram and bar charts.

The charts are plain SVG text written here in Python, so that the report is one
file that draws without JavaScript, fonts or anything fetched from a network.
They are given released figures only. A suppressed count reaches them as
``None`` and is drawn as a hatched, labelled mark whose size carries no
information; it is never drawn as zero and never printed as a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Flow diagram geometry, in SVG user units (pixels at 100% zoom).
SANKEY_WIDTH = 960
NODE_WIDTH = 14
SANKEY_LEFT = 8
SANKEY_RIGHT = 230  # room for the labels of the last column
SANKEY_TOP = 12
SANKEY_PLOT_HEIGHT = 420
NODE_GAP = 16
LABEL_SLOT = 34  # vertical room that a node's two label lines need
SUPPRESSED_BAND = 5  # fixed width of a suppressed flow: it shows no size
MIN_NODE_HEIGHT = 3

# Bar chart geometry.
BAR_WIDTH = 960
BAR_LABEL_AREA = 190
BAR_VALUE_AREA = 90
BAR_HEIGHT = 16
BAR_SPACING = 3
GROUP_GAP = 14
BAR_TOP = 62


@dataclass(frozen=True)
class SankeyNode:
    """A pathway state: a column of the diagram and a label.

    ``value`` is the number of students in the state when it is released directly
    (the cohort size for the first node); otherwise the diagram adds up the
    released flows into the node, and shows no number when one of them is
    suppressed.
    """

    key: str
    label: str
    column: int
    tone: str = "neutral"
    value: int | None = None


@dataclass(frozen=True)
class SankeyFlow:
    """Students moving from one state to the next; ``count`` None if suppressed."""

    source: str
    target: str
    count: int | None
    label: str


@dataclass(frozen=True)
class Bar:
    """One bar: a rate from 0 to 1, or None with the text shown in its place."""

    rate: float | None
    gap_label: str = "suppressed"


@dataclass(frozen=True)
class BarSeries:
    """One coloured series of a bar chart, one bar per category."""

    label: str
    bars: tuple[Bar, ...]
    tone: str


def count_text(count: int) -> str:
    """Format a count with thousands separators."""
    return f"{count:,}"


def percent_text(rate: float) -> str:
    """Format a rate from 0 to 1 as a percentage with one decimal."""
    return f"{100 * rate:.1f}%"


# Flow diagram


@dataclass
class _Placed:
    node: SankeyNode
    x: float
    y: float
    height: float
    value: int | None
    out_offset: float = 0.0
    in_offset: float = 0.0


def sankey_svg(
    nodes: Sequence[SankeyNode],
    flows: Sequence[SankeyFlow],
    *,
    title: str,
    description: str,
    chart_id: str,
) -> str:
    """Return an SVG flow diagram whose band widths follow the released counts."""
    by_key = {node.key: node for node in nodes}
    for flow in flows:
        for key in (flow.source, flow.target):
            if key not in by_key:
                raise ValueError(f"Flow {flow.label!r} refers to unknown node {key!r}.")

    # Each node's size in students: its own value, or what its released flows show.
    values = {node.key: _node_value(node, flows) for node in nodes}
    sizes = {
        key: value if value is not None else _released_size(key, flows)
        for key, value in values.items()
    }
    stubs = {node.key: _suppressed_band_room(node.key, flows) for node in nodes}

    # One scale for the whole diagram: the fullest column fills the plot height.
    columns = sorted({node.column for node in nodes})
    scale = 0.0
    for column in columns:
        members = [n for n in nodes if n.column == column]
        total = sum(sizes[n.key] for n in members)
        room = float(SANKEY_PLOT_HEIGHT - NODE_GAP * (len(members) - 1))
        room -= sum(stubs[n.key] for n in members)
        if total > 0:
            fit = max(room, 0.0) / total
            scale = fit if scale == 0.0 else min(scale, fit)

    # Place the nodes column by column, each in a slot tall enough for its label.
    span = SANKEY_WIDTH - SANKEY_LEFT - SANKEY_RIGHT - NODE_WIDTH
    step = span / max(len(columns) - 1, 1)
    placed: dict[str, _Placed] = {}
    bottom = float(SANKEY_TOP)
    for index, column in enumerate(columns):
        y = float(SANKEY_TOP)
        for node in (n for n in nodes if n.column == column):
            height = max(sizes[node.key] * scale + stubs[node.key], MIN_NODE_HEIGHT)
            slot = max(height, LABEL_SLOT)
            top = y + (slot - height) / 2
            placed[node.key] = _Placed(
                node, SANKEY_LEFT + index * step, top, height, values[node.key]
            )
            y += slot + NODE_GAP
        bottom = max(bottom, y - NODE_GAP)
    height_total = bottom + SANKEY_TOP

    # Bands leave a node in the order of their targets and enter it in the order
    # of their sources, so that they do not cross at the nodes.
    hatch = f"{chart_id}-hatch"
    ordered = sorted(flows, key=lambda f: (placed[f.source].y, placed[f.target].y))
    bands = [_band(flow, placed, scale, hatch) for flow in ordered]

    root_total = next((p.value for p in placed.values() if p.node.column == 0), None)
    parts = [
        _svg_open(chart_id, SANKEY_WIDTH, height_total, title, description),
        _hatch_pattern(hatch),
        '<g class="flows">',
        *bands,
        "</g>",
        '<g class="nodes">',
        *(_node(p, root_total) for p in placed.values()),
        "</g>",
        "</svg>",
    ]
    return "\n".join(parts)


def _node_value(node: SankeyNode, flows: Sequence[SankeyFlow]) -> int | None:
    """A node's released size: its own value, or the sum of its released inflows.

    With no inflows (the first column) the outflows are added instead. A sum that
    would need a suppressed flow is not known, so None.
    """
    if node.value is not None:
        return node.value
    inflows = [f for f in flows if f.target == node.key]
    parts = inflows or [f for f in flows if f.source == node.key]
    if not parts or any(f.count is None for f in parts):
        return None
    return sum(f.count for f in parts if f.count is not None)


def _released_size(key: str, flows: Sequence[SankeyFlow]) -> int:
    """The larger of the released flows into and out of a node."""
    into = sum(f.count or 0 for f in flows if f.target == key)
    out = sum(f.count or 0 for f in flows if f.source == key)
    return max(into, out)


def _suppressed_band_room(key: str, flows: Sequence[SankeyFlow]) -> float:
    """Height a node needs for its suppressed bands, on its busier side."""
    into = sum(1 for f in flows if f.target == key and f.count is None)
    out = sum(1 for f in flows if f.source == key and f.count is None)
    return max(into, out) * SUPPRESSED_BAND


def _band(
    flow: SankeyFlow, placed: dict[str, _Placed], scale: float, hatch: str
) -> str:
    """One flow as a filled band between two nodes (a cubic Bezier on each side)."""
    source, target = placed[flow.source], placed[flow.target]
    suppressed = flow.count is None
    width = SUPPRESSED_BAND if flow.count is None else flow.count * scale

    x0 = source.x + NODE_WIDTH
    x1 = target.x
    y0 = source.y + source.out_offset
    y1 = target.y + target.in_offset
    source.out_offset += width
    target.in_offset += width
    middle = (x0 + x1) / 2
    path = (
        f"M{x0:.1f},{y0:.2f} C{middle:.1f},{y0:.2f} {middle:.1f},{y1:.2f} "
        f"{x1:.1f},{y1:.2f} L{x1:.1f},{y1 + width:.2f} C{middle:.1f},{y1 + width:.2f} "
        f"{middle:.1f},{y0 + width:.2f} {x0:.1f},{y0 + width:.2f} Z"
    )
    tone = target.node.tone
    if suppressed:
        tip = f"{flow.label}: suppressed"
        text_x = x1 - 6
        text_y = y1 + width / 2
        return (
            f'<g class="flow suppressed"><path class="band suppressed" d="{path}" '
            f'fill="url(#{hatch})"><title>{escape(tip)}</title></path>'
            f'<text class="band-note" x="{text_x:.1f}" y="{text_y:.1f}" '
            f'text-anchor="end" dominant-baseline="middle">suppressed</text></g>'
        )
    tip = f"{flow.label}: {count_text(flow.count or 0)}"
    return (
        f'<path class="band tone-{escape(tone)}" d="{path}" '
        f'data-thickness="{width:.3f}"><title>{escape(tip)}</title></path>'
    )


def _node(placed: _Placed, root_total: int | None) -> str:
    """A node's bar and its two label lines (name, then count and share)."""
    node = placed.node
    if placed.value is None:
        figure = "total not shown"
    else:
        figure = count_text(placed.value)
        if root_total and node.column > 0:
            figure += f" ({percent_text(placed.value / root_total)})"
    centre = placed.y + placed.height / 2
    label_x = placed.x + NODE_WIDTH + 6
    return (
        f'<g class="node tone-{escape(node.tone)}">'
        f'<rect x="{placed.x:.1f}" y="{placed.y:.2f}" width="{NODE_WIDTH}" '
        f'height="{placed.height:.2f}"><title>{escape(node.label)}: '
        f"{escape(figure)}</title></rect>"
        f'<text class="node-label" x="{label_x:.1f}" '
        f'y="{centre - 7:.1f}">{escape(node.label)}</text>'
        f'<text class="node-figure" x="{label_x:.1f}" y="{centre + 9:.1f}">'
        f"{escape(figure)}</text></g>"
    )


# Bar charts


def bar_chart_svg(
    categories: Sequence[str],
    series: Sequence[BarSeries],
    *,
    title: str,
    description: str,
    chart_id: str,
) -> str:
    """Return a horizontal grouped bar chart of rates from 0 to 100%.

    A bar whose rate is None is a labelled gap: no bar, only its ``gap_label``.
    """
    for one in series:
        if len(one.bars) != len(categories):
            raise ValueError(
                f"Series {one.label!r} has {len(one.bars)} bars for "
                f"{len(categories)} categories; give one bar per category."
            )

    plot_left = BAR_LABEL_AREA
    plot_width = BAR_WIDTH - BAR_LABEL_AREA - BAR_VALUE_AREA
    group_height = len(series) * (BAR_HEIGHT + BAR_SPACING) - BAR_SPACING
    plot_bottom = BAR_TOP + len(categories) * (group_height + GROUP_GAP) - GROUP_GAP
    height = plot_bottom + 14

    # Legend, then the percentage grid.
    parts = [_svg_open(chart_id, BAR_WIDTH, height, title, description)]
    parts.append('<g class="legend">')
    x = plot_left
    for one in series:
        parts.append(
            f'<rect class="tone-{escape(one.tone)}" x="{x}" y="8" width="14" '
            f'height="14"/><text x="{x + 20}" y="19">{escape(one.label)}</text>'
        )
        x += 28 + 8 * len(one.label)
    parts.append("</g>")
    parts.append('<g class="grid">')
    for tick in range(0, 101, 20):
        tick_x = plot_left + plot_width * tick / 100
        parts.append(
            f'<line x1="{tick_x:.1f}" y1="{BAR_TOP - 8}" x2="{tick_x:.1f}" '
            f'y2="{plot_bottom + 4}"/><text x="{tick_x:.1f}" y="{BAR_TOP - 13}" '
            f'text-anchor="middle">{tick}%</text>'
        )
    parts.append("</g>")

    # One group of bars per category.
    parts.append('<g class="bars">')
    for i, category in enumerate(categories):
        top = BAR_TOP + i * (group_height + GROUP_GAP)
        parts.append(
            f'<text class="category" x="{plot_left - 10}" '
            f'y="{top + group_height / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(category)}</text>'
        )
        for k, one in enumerate(series):
            bar = one.bars[i]
            y = top + k * (BAR_HEIGHT + BAR_SPACING)
            middle = y + BAR_HEIGHT / 2
            if bar.rate is None:
                tip = f"{category}, {one.label}: {bar.gap_label}"
                parts.append(
                    f'<g class="gap"><title>{escape(tip)}</title>'
                    f'<line x1="{plot_left}" y1="{y}" x2="{plot_left}" '
                    f'y2="{y + BAR_HEIGHT}"/><text x="{plot_left + 6}" '
                    f'y="{middle:.1f}" dominant-baseline="middle">'
                    f"{escape(bar.gap_label)}</text></g>"
                )
                continue
            width = plot_width * min(max(bar.rate, 0.0), 1.0)
            value = percent_text(bar.rate)
            tip = f"{category}, {one.label}: {value}"
            parts.append(
                f'<rect class="bar tone-{escape(one.tone)}" x="{plot_left}" '
                f'y="{y}" width="{width:.2f}" height="{BAR_HEIGHT}">'
                f"<title>{escape(tip)}</title></rect>"
                f'<text class="value" x="{plot_left + width + 5:.1f}" '
                f'y="{middle:.1f}" dominant-baseline="middle">{value}</text>'
            )
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


# Shared pieces


def _svg_open(
    chart_id: str, width: float, height: float, title: str, description: str
) -> str:
    """The opening tag with an accessible name (title) and description (desc)."""
    ident = escape(chart_id)
    return (
        f'<svg class="chart" id="{ident}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    )


def _hatch_pattern(pattern_id: str) -> str:
    """Diagonal hatching for suppressed flows."""
    return (
        f'<defs><pattern id="{escape(pattern_id)}" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" class="hatch-ground"/>'
        '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/></pattern></defs>'
    )
