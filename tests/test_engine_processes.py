"""Whole sessions with one process per party, compared with the plaintext reference.

Each test writes small synthetic files, starts one session process per party on
127.0.0.1, reconstructs the released table as the coordinator does, and checks it
cell by cell against the pandas reference on the same files.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from federations import local_federation, reference_inputs

from mpc.context import OPENED_KINDS
from parties.demo import catalogue_text
from parties.local import run_local
from parties.reference import reference_counts, reference_table

pytestmark = pytest.mark.processes

FOUR = ("board_a", "board_b", "college", "university")
SIX = (*FOUR, "foundation", "council")

BOARDS_AND_COLLEGE = """
name = "boards_and_college"
[population]
partners = ["board_b", "board_a"]
where = "grade9_year >= 2014 and special_ed == false"
[[rows]]
by = "partner"
label = "Board"
[[rows]]
column = "gender"
[[measures]]
name = "ossd"
when = "ossd_year != null"
[[measures]]
name = "at_both_boards"
when = "exists(board_a) and exists(board_b)"
[[measures]]
name = "college_grad_soon"
when = "exists(college, outcome == 'graduated' and credential_year - ossd_year <= 4)"
[[measures]]
name = "no_college"
when = "not exists(college)"
[[measures]]
name = "late_or_none"
when = "ossd_year == null or ossd_year - grade9_year >= 5"
[disclosure]
min_cell_size = 3
"""

COLLEGE_FIELDS = """
name = "college_fields"
[population]
partners = ["board_a", "board_b"]
where = "2013 <= grade9_year <= 2016"
[[rows]]
column = "college.field"
[[rows]]
column = "math_stream"
groups = { "Academic" = ["academic"], "Applied or LDCC" = ["applied", "locally_developed"] }
[[rows]]
column = "credits_g10"
bins = [0, 16]
[[measures]]
name = "university_after_college"
when = "exists(university, entry_year >= 2016) and exists(college)"
[[measures]]
name = "college_before_ossd"
when = "exists(college, entry_year < ossd_year)"
[disclosure]
min_cell_size = 5
"""

COLLEGE_POPULATION = """
name = "college_students"
[population]
partners = ["college"]
where = "entry_year >= 2015"
[[rows]]
column = "credential_type"
[[measures]]
name = "from_board_a"
when = "exists(board_a)"
[[measures]]
name = "ossd_before_entry"
when = "exists(board_b, ossd_year <= population.entry_year) or exists(board_a, ossd_year <= population.entry_year)"
[[measures]]
name = "graduated"
when = "outcome == 'graduated'"
[disclosure]
min_cell_size = 1
"""


def _check_against_reference(tmp_path: Path, names, request_text: str, seed: int):
    federation, data = local_federation(tmp_path, names, seed=seed)

    run = run_local(federation, data, request_text, tmp_path / "session")

    request, frames, schemas = reference_inputs(federation, data, request_text)
    expected = reference_table(request, frames, schemas=schemas)
    assert run.table.same_release(expected), (
        f"MPC:\n{run.table.render()}\nreference:\n{expected.render()}"
    )
    counts = reference_counts(request, frames, schemas=schemas)
    return run, counts


def test_three_parties_match_the_reference_with_cross_partner_conditions(tmp_path):
    run, counts = _check_against_reference(
        tmp_path, ("board_a", "board_b", "college"), BOARDS_AND_COLLEGE, seed=11
    )

    # Students at both boards exist in the data and are counted once.
    assert counts[:, 2].sum() > 0
    assert not run.table.suppressed.all()


def test_four_parties_match_the_reference_for_the_standard_table(tmp_path):
    _check_against_reference(tmp_path, FOUR, catalogue_text("pathways_by_quintile"), 12)


def test_four_parties_match_the_reference_for_a_population_of_many_records(tmp_path):
    _check_against_reference(tmp_path, FOUR, COLLEGE_POPULATION, seed=13)


def test_six_parties_match_the_reference_for_the_standard_table(tmp_path):
    _check_against_reference(tmp_path, SIX, catalogue_text("pathways_by_quintile"), 14)


def test_six_parties_match_the_reference_with_partner_dimensions(tmp_path):
    _check_against_reference(tmp_path, SIX, COLLEGE_FIELDS, seed=15)


def _readme_leakage_kinds() -> set[str]:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What leaks", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([a-z_]+)`", section, flags=re.MULTILINE))


def test_every_opened_value_is_on_the_leakage_list(tmp_path):
    federation, data = local_federation(tmp_path, SIX, seed=16)
    text = catalogue_text("pathways_by_quintile")

    run = run_local(federation, data, text, tmp_path / "session", transcript=True)

    # Every kind any party saw is declared in the code and listed in the README.
    listed = _readme_leakage_kinds()
    assert set(OPENED_KINDS) == listed
    seen = {e["kind"] for t in run.transcripts.values() for e in t}
    assert seen <= listed
    assert {"row_counts", "pseudonyms", "masked_key"} <= seen

    # Row counts are the parties' input sizes; the pseudonyms are the same for
    # everyone and reveal only how often each key occurs.
    request, frames, schemas = reference_inputs(federation, data, text)
    from parties.encode import party_rows

    expected_rows = []
    keys = []
    for node in federation.nodes:
        rows = party_rows(
            run.plan, node.name if node.name in data else None, frames.get(node.name)
        )
        expected_rows.append(len(rows.keys))
        keys.extend(int(k) for k in rows.keys)
    first = {e["kind"]: e["value"] for e in run.transcripts[0]}
    assert first["row_counts"] == expected_rows
    names = [
        tuple(next(e["value"] for e in t if e["kind"] == "pseudonyms"))
        for t in run.transcripts.values()
    ]
    assert len(set(names)) == 1
    _, true_histogram = np.unique(
        np.unique(keys, return_counts=True)[1], return_counts=True
    )
    _, seen_histogram = np.unique(
        np.unique(names[0], return_counts=True)[1], return_counts=True
    )
    assert sorted(true_histogram.tolist()) == sorted(seen_histogram.tolist())

    # Opened masks are uniformly random looking: all distinct, none repeats a key.
    masks = [
        int(v)
        for t in run.transcripts.values()
        for e in t
        if e["kind"] == "masked_key"
        for v in e["value"]
    ]
    assert len(masks) == sum(expected_rows)
    assert len(set(masks)) == len(masks)
    assert not set(masks) & set(keys)


def test_a_party_killed_mid_session_makes_the_others_abort_quickly(tmp_path):
    import time

    from parties.local import PartyFailed

    federation, data = local_federation(tmp_path, FOUR, seed=17)
    started = time.monotonic()

    with pytest.raises(PartyFailed, match="failed") as failure:
        run_local(
            federation,
            data,
            catalogue_text("pathways_by_quintile"),
            tmp_path / "session",
            kill_party_after_phase=(2, "shuffle"),
        )

    assert time.monotonic() - started < 30
    # Every surviving party reports an aborted session, naming the lost party.
    report = str(failure.value)
    assert report.count("Session aborted") >= 3
    assert "disconnected" in report


RENAMED = """
name = "renamed"
[population]
partners = ["west", "east"]
where = "start_year >= 2013"
[[rows]]
column = "quintile"
total = true
[[measures]]
name = "diploma"
when = "diploma_year != null"
[[measures]]
name = "went_to_college"
when = "exists(tech, 0 <= started - diploma_year <= 2)"
"""


def test_five_parties_with_other_partner_and_column_names(tmp_path):
    import pandas as pd
    import tomli_w

    from parties.demo import write_federation
    from parties.federation import load_federation
    from parties.schema import load_schema
    from parties.synth import write_synthetic_data

    # Synthetic files under other names, with renamed columns and Parquet input.
    files = write_synthetic_data(tmp_path / "raw", seed=18, scale=0.02)
    board_names = {
        "grade9_year": "start_year",
        "income_quintile": "quintile",
        "ossd_year": "diploma_year",
        "oen": "student_number",
    }
    college_names = {"entry_year": "started", "oen": "student_number"}
    out = tmp_path / "data"
    out.mkdir()
    for old, new, names in (
        ("board_a", "west", board_names),
        ("board_b", "east", board_names),
        ("college", "tech", college_names),
    ):
        frame = pd.read_csv(files[old], dtype=str, keep_default_na=False)
        frame = frame.rename(columns=names)
        frame.to_parquet(out / f"{new}.parquet") if new == "tech" else frame.to_csv(
            out / f"{new}.csv", index=False
        )
    for kind, names in (("board", board_names), ("college", college_names)):
        schema = load_schema(tmp_path / "raw" / "schemas" / f"{kind}.toml").to_dict()
        schema["id_column"] = names.pop("oen")
        schema["columns"] = {names.get(k, k): v for k, v in schema["columns"].items()}
        schema["record_order"] = [names.get(k, k) for k in schema["record_order"]]
        (out / f"{kind}.toml").write_text(tomli_w.dumps(schema))
    path = write_federation(
        tmp_path / "federation.toml",
        ("west", "east", "tech", "helper_one", "helper_two"),
        schemas={
            "west": "data/board.toml",
            "east": "data/board.toml",
            "tech": "data/college.toml",
        },
    )
    federation = load_federation(path)
    data = {
        "west": out / "west.csv",
        "east": out / "east.csv",
        "tech": out / "tech.parquet",
    }

    run = run_local(federation, data, RENAMED, tmp_path / "session")

    request, frames, schemas = reference_inputs(federation, data, RENAMED)
    expected = reference_table(request, frames, schemas=schemas)
    assert run.table.same_release(expected), run.table.render()
    assert federation.effective_threshold == 2
