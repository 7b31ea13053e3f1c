"""Tests of the catalogue of standard tables against the synthetic partners."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from parties.data import load_partner_data
from parties.reference import reference_counts, reference_table
from parties.report import CATALOGUE, catalogue_text, catalogue_texts
from parties.report_figures import (
    RATE_CHARTS,
    RATE_SERIES,
    SANKEY_FLOWS,
    SANKEY_NODES,
    SANKEY_ROOT,
    SANKEY_TABLE,
)
from parties.request import Request, parse_request, parse_request_text
from parties.schema import Schema
from parties.synth import PARTNER_SCHEMAS, synthetic_schemas, write_synthetic_data

FEDERATION_PARTNERS = {"board_a", "board_b", "college", "university"}
BREAKDOWNS = [name for name in CATALOGUE if name.startswith("pathways_by_")]


@pytest.fixture(scope="module")
def schemas() -> dict[str, Schema]:
    by_schema = synthetic_schemas()
    return {partner: by_schema[name] for partner, name in PARTNER_SCHEMAS.items()}


@pytest.fixture(scope="module")
def frames(
    tmp_path_factory: pytest.TempPathFactory, schemas: dict[str, Schema]
) -> dict[str, pd.DataFrame]:
    files = write_synthetic_data(
        tmp_path_factory.mktemp("synthetic"), seed=11, scale=0.05
    )
    return {
        partner: load_partner_data(path, schemas[partner]).frame
        for partner, path in files.items()
    }


def _request(name: str, schemas: dict[str, Schema]) -> Request:
    return parse_request_text(catalogue_text(name), schemas, source=name)


def test_lists_every_request_file_of_the_catalogue_folder() -> None:
    folder = resources.files("parties").joinpath("catalogue")
    files = {Path(entry.name).stem for entry in folder.iterdir()}

    assert set(CATALOGUE) == {name for name in files if not name.startswith(".")}
    assert len(set(CATALOGUE)) == len(CATALOGUE)


@pytest.mark.parametrize("name", CATALOGUE)
def test_request_parses_against_the_synthetic_schemas(
    name: str, schemas: dict[str, Schema]
) -> None:
    request = _request(name, schemas)

    assert request.name == name
    assert request.title and request.description.strip()
    assert set(request.partners_used()) <= FEDERATION_PARTNERS
    assert request.disclosure.min_cell_size == 10


def test_names_titles_and_digests_are_unique(schemas: dict[str, Schema]) -> None:
    requests = [_request(name, schemas) for name in CATALOGUE]

    for attribute in ("name", "title", "digest"):
        values = [getattr(request, attribute) for request in requests]
        assert len(set(values)) == len(values), attribute


def test_breakdown_tables_count_the_same_measures(schemas: dict[str, Schema]) -> None:
    requests = [_request(name, schemas) for name in BREAKDOWNS]

    first = [(m.name, m.label, m.text) for m in requests[0].measures]
    for request in requests[1:]:
        assert [(m.name, m.label, m.text) for m in request.measures] == first
    assert {name for name, _, _ in RATE_SERIES} <= {name for name, _, _ in first}
    assert set(RATE_CHARTS) <= set(BREAKDOWNS)


@pytest.mark.parametrize("name", CATALOGUE)
def test_request_runs_through_the_reference(
    name: str, schemas: dict[str, Schema], frames: dict[str, pd.DataFrame]
) -> None:
    request = _request(name, schemas)

    table = reference_table(request, frames, schemas=schemas)

    assert table.values.shape == (len(request.full_cells()), len(request.columns))
    assert table.values[:, 0].sum() > 0
    assert table.digest == request.digest


def test_flow_measures_are_exactly_the_flows_of_the_diagram(
    schemas: dict[str, Schema],
) -> None:
    request = _request(SANKEY_TABLE, schemas)
    nodes = {node.key for node in SANKEY_NODES}

    assert [m.name for m in request.measures] == list(SANKEY_FLOWS)
    assert not request.dimensions
    for source, target in SANKEY_FLOWS.values():
        assert source in nodes and target in nodes


def test_flows_out_of_each_state_add_up_to_the_flows_into_it(
    schemas: dict[str, Schema], frames: dict[str, pd.DataFrame]
) -> None:
    request = _request(SANKEY_TABLE, schemas)

    counts = reference_counts(request, frames, schemas=schemas)[0]

    flow = {m.name: int(counts[j]) for j, m in enumerate(request.measures, start=1)}
    for node in SANKEY_NODES:
        into = [flow[name] for name, (_, t) in SANKEY_FLOWS.items() if t == node.key]
        out = [flow[name] for name, (s, _) in SANKEY_FLOWS.items() if s == node.key]
        if node.key == SANKEY_ROOT:
            assert sum(out) == counts[0]
        elif out:
            assert sum(out) == sum(into), node.key
    assert min(flow.values()) >= 0 and counts[0] > 0


def test_flow_table_declares_each_state_as_the_sum_of_its_flows(
    schemas: dict[str, Schema],
) -> None:
    request = _request(SANKEY_TABLE, schemas)
    columns = ("students", *(m.name for m in request.measures))
    into = {target: name for name, (_, target) in SANKEY_FLOWS.items()}
    expected = set()
    for node in SANKEY_NODES:
        out = tuple(n for n, (source, _) in SANKEY_FLOWS.items() if source == node.key)
        if out:
            total = "students" if node.key == SANKEY_ROOT else into[node.key]
            expected.add((total, out))

    declared = {
        (columns[total], tuple(columns[part] for part in parts))
        for total, parts in request.disclosure.column_sums
    }

    assert declared == expected


def test_flows_out_of_each_state_are_disjoint_and_inside_it(
    schemas: dict[str, Schema], frames: dict[str, pd.DataFrame]
) -> None:
    # Extra measures count, per student, any overlap between siblings and any
    # child outside its parent; all must be zero for an exact partition.
    raw: dict[str, Any] = tomllib.loads(catalogue_text(SANKEY_TABLE))
    checks = []
    parents = {target: name for name, (_, target) in SANKEY_FLOWS.items()}
    for node in SANKEY_NODES:
        children = [n for n, (s, _) in SANKEY_FLOWS.items() if s == node.key]
        parent = "true" if node.key == SANKEY_ROOT else parents.get(node.key)
        if not children or parent is None:
            continue
        for i, left in enumerate(children):
            checks.append(f"{left} and not ({parent})")
            for right in children[i + 1 :]:
                checks.append(f"{left} and {right}")
        checks.append(f"({parent}) and not ({' or '.join(children)})")
    raw["measures"] += [
        {"name": f"check_{i}", "when": when} for i, when in enumerate(checks)
    ]
    request = parse_request(raw, schemas, source="partition check")

    counts = reference_counts(request, frames, schemas=schemas)[0]

    assert counts[0] > 0
    assert np.all(counts[1 + len(SANKEY_FLOWS) :] == 0)


def test_catalogue_texts_come_in_report_order() -> None:
    texts = catalogue_texts()

    assert list(texts) == list(CATALOGUE)
    assert all(f'name = "{name}"' in text for name, text in texts.items())
