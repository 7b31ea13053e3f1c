"""The pathway report's style sheet, inlined into the page.

System fonts only, so that the page fetches nothing; sober colours that stay
readable in print and in greyscale; figures in tabular numerals.
"""

REPORT_CSS = """
:root {
  --ink: #1f2933;
  --muted: #52606d;
  --rule: #d9e2ec;
  --band: #f5f7fa;
  --accent: #1f4e79;
  --cohort: #334e68;
  --diploma: #2f6f9f;
  --entry: #3a7d5c;
  --credential: #b7791f;
  --none: #9aa5b1;
  --direct: #2f6f9f;
  --any: #9cc3e0;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0 auto;
  max-width: 1100px;
  padding: 24px 28px 48px;
  color: var(--ink);
  background: #fff;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
    "Liberation Sans", "Helvetica Neue", Arial, sans-serif;
  font-size: 16px;
  line-height: 1.5;
}
header { border-bottom: 3px solid var(--accent); margin-bottom: 8px; }
.kicker {
  margin: 0;
  color: var(--accent);
  font-size: 0.8rem;
  font-weight: 600;
  letter-spacing: 0.06em;
  text-transform: uppercase;
}
h1 { margin: 4px 0 4px; font-size: 1.9rem; line-height: 1.2; }
h2 { margin: 40px 0 8px; font-size: 1.35rem; color: var(--accent); }
h3 { margin: 20px 0 6px; font-size: 1rem; }
.meta, .lede, figcaption, .footnotes, footer { color: var(--muted); }
.meta { margin: 0 0 12px; font-size: 0.9rem; }
.lede { max-width: 72ch; }
section { break-inside: auto; }
section + section { border-top: 1px solid var(--rule); }
.intro ul { padding-left: 1.2em; max-width: 78ch; }
.intro h2 { margin-top: 20px; }
nav ol { padding-left: 1.4em; columns: 2; column-gap: 32px; }
a { color: var(--accent); }
code {
  font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo,
    Consolas, monospace;
  font-size: 0.85em;
  overflow-wrap: anywhere;
}
.scroll { overflow-x: auto; }
table.figures {
  border-collapse: collapse;
  font-size: 0.82rem;
  font-variant-numeric: tabular-nums;
  margin: 4px 0 8px;
}
table.figures th, table.figures td {
  padding: 5px 6px;
  border-bottom: 1px solid var(--rule);
  vertical-align: bottom;
}
table.figures thead th {
  border-bottom: 2px solid var(--ink);
  font-weight: 600;
  max-width: 6.8em;
}
table.figures thead th.dim { text-align: left; min-width: 7em; max-width: 10em; }
table.figures tbody th { text-align: left; font-weight: 500; white-space: nowrap; }
table.figures tbody tr:nth-child(even) { background: var(--band); }
table.figures tbody tr.total th, table.figures tbody tr.total td {
  border-top: 1px solid var(--ink);
  font-weight: 600;
}
.num { text-align: right; white-space: nowrap; }
table.figures thead th.num { white-space: normal; }
.withheld, .empty { color: var(--muted); }
.x { font-style: italic; }
.x sup { font-size: 0.7em; margin-left: 1px; }
.footnotes { font-size: 0.85rem; padding-left: 1.2em; margin: 4px 0; }
details.about {
  margin: 12px 0 8px;
  padding: 8px 12px;
  border: 1px solid var(--rule);
  border-radius: 4px;
  background: var(--band);
  font-size: 0.88rem;
}
details.about summary { cursor: pointer; font-weight: 600; }
details.about dl { margin: 8px 0 0; }
details.about dt { font-weight: 600; margin-top: 8px; }
details.about dd { margin: 2px 0 0 0; }
details.about ul { margin: 2px 0; padding-left: 1.2em; }
table.definitions { border-collapse: collapse; }
table.definitions th {
  text-align: left;
  font-weight: 500;
  padding: 2px 12px 2px 0;
  vertical-align: top;
  white-space: nowrap;
}
table.definitions td { padding: 2px 0; }
.digest { overflow-wrap: anywhere; }
figure.chart-figure { margin: 16px 0 12px; break-inside: avoid; }
figure.chart-figure figcaption { font-size: 0.85rem; max-width: 80ch; }
figure.chart-figure .chart-title {
  margin: 0;
  color: var(--ink);
  font-weight: 600;
  font-size: 0.95rem;
}
svg.chart {
  display: block;
  width: 100%;
  max-width: 100%;
  height: auto;
  margin: 6px 0;
  font-family: inherit;
  font-size: 13px;
}
svg.chart text { fill: var(--ink); }
svg.chart .band { fill-opacity: 0.45; stroke: none; }
svg.chart .band.suppressed {
  fill-opacity: 1;
  stroke: var(--muted);
  stroke-width: 1;
  stroke-dasharray: 3 2;
}
svg.chart .hatch-ground { fill: #fff; }
svg.chart .hatch-line { stroke: var(--muted); stroke-width: 1.5; }
svg.chart .band-note { font-size: 11px; font-style: italic; fill: var(--muted); }
svg.chart .node-label, svg.chart .node-figure, svg.chart .band-note {
  paint-order: stroke;
  stroke: #fff;
  stroke-width: 4px;
  stroke-linejoin: round;
}
svg.chart .node-label { font-weight: 600; }
svg.chart .node-figure { fill: var(--muted); font-size: 12px; }
svg.chart .tone-cohort { fill: var(--cohort); }
svg.chart .tone-diploma { fill: var(--diploma); }
svg.chart .tone-entry { fill: var(--entry); }
svg.chart .tone-credential { fill: var(--credential); }
svg.chart .tone-none { fill: var(--none); }
svg.chart .tone-direct { fill: var(--direct); }
svg.chart .tone-any { fill: var(--any); }
svg.chart .grid line { stroke: var(--rule); stroke-width: 1; }
svg.chart .grid text { fill: var(--muted); font-size: 11px; }
svg.chart .value { font-size: 12px; }
svg.chart .gap line { stroke: var(--muted); stroke-dasharray: 3 2; }
svg.chart .gap text { fill: var(--muted); font-style: italic; font-size: 12px; }
footer {
  margin-top: 40px;
  padding-top: 12px;
  border-top: 1px solid var(--rule);
  font-size: 0.85rem;
}
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  details.about { border: none; padding: 0; background: none; }
  .scroll { overflow: visible; }
  nav ol { columns: 1; }
}
"""
