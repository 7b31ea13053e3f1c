"""Tests of the plaintext reference against small tables counted by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from parties.errors import DataError
from parties.reference import apply_min_cell_size, reference_counts, reference_table
from parties.request import Request, parse_request_text
from parties.schema import Schema, load_schema, schema_from_dict

BOARD = schema_from_dict(
    {
        "name": "board",
        "id_column": "oen",
        "id_check": "none",
        "records_per_student": "one",
        "record_order": ["grade9_year"],
        "columns": {
            "gender": {"type": "category", "values": ["F", "M", "X"]},
            "grade9_year": {"type": "integer", "min": 2012, "max": 2019},
            "ossd_year": {
                "type": "integer",
                "min": 2014,
                "max": 2027,
                "nullable": True,
            },
            "iep": {"type": "boolean", "nullable": True},
            "program": {
                "type": "category",
                "values": ["academic", "applied", "locally_developed"],
                "nullable": True,
            },
        },
    }
)

COLLEGE = schema_from_dict(
    {
        "name": "college",
        "id_column": "oen",
        "id_check": "none",
        "records_per_student": "many",
        "record_order": ["entry_year"],
        "columns": {
            "entry_year": {
                "type": "integer",
                "min": 2014,
                "max": 2030,
                "nullable": True,
            },
            "program_area": {
                "type": "category",
                "values": ["business", "health", "trades"],
                "nullable": True,
            },
        },
    }
)

UNIVERSITY = schema_from_dict(
    {
        "name": "university",
        "id_column": "oen",
        "id_check": "none",
        "records_per_student": "one",
        "columns": {
            "entry_year": {"type": "integer", "min": 2014, "max": 2030},
        },
    }
)

SCHEMAS = {
    "board_a": BOARD,
    "board_b": BOARD,
    "college": COLLEGE,
    "university": UNIVERSITY,
}

_DTYPES = {"category": "string", "integer": "Int64", "boolean": "boolean"}


def make_frame(schema: Schema, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A loaded frame: ``_key``, then every declared column, unset values null."""
    data: dict[str, Any] = {"_key": np.array([row["key"] for row in rows], np.int64)}
    for name, column in schema.columns.items():
        data[name] = pd.array(
            [row.get(name) for row in rows], dtype=_DTYPES[column.kind]
        )
    return pd.DataFrame(data)


def board(key: int, grade9_year: int = 2016, **values: Any) -> dict[str, Any]:
    """A board row; gender and grade-9 year are required, so give defaults."""
    return {"key": key, "gender": "F", "grade9_year": grade9_year, **values}


def make_frames(**rows: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Frames for every partner; those not given are empty."""
    return {
        partner: make_frame(schema, rows.get(partner, []))
        for partner, schema in SCHEMAS.items()
    }


def make_request(body: str, *, min_cell_size: int = 10) -> Request:
    text = f'name = "test"\n{body}\n[disclosure]\nmin_cell_size = {min_cell_size}\n'
    return parse_request_text(text, SCHEMAS)


BOTH_BOARDS = '[population]\npartners = ["board_a", "board_b"]\n'


def test_counts_student_at_both_boards_once() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[measures]]
name = "ossd"
when = "ossd_year != null"

[[measures]]
name = "ossd_2018"
when = "ossd_year == 2018"
"""
    )
    frames = make_frames(
        board_a=[board(1), board(2, ossd_year=2018), board(4, ossd_year=2018)],
        board_b=[board(1, ossd_year=2019), board(3), board(4, ossd_year=2017)],
    )

    counts = reference_counts(request, frames, schemas=SCHEMAS)

    # Students 1-4; 1 has its diploma from board_b only, 4 takes board_a's year.
    assert counts.tolist() == [[4, 3, 2]]


def test_filter_excludes_record_at_one_board_but_not_the_other() -> None:
    request = make_request(
        """
[population]
partners = ["board_a", "board_b"]
where = "2015 <= grade9_year <= 2019"

[[rows]]
column = "grade9_year"

[[measures]]
name = "ossd"
when = "ossd_year != null"
"""
    )
    frames = make_frames(
        board_a=[board(1, 2013, ossd_year=2017), board(2, 2013, ossd_year=2017)],
        board_b=[board(1, 2016), board(3, 2015, ossd_year=2019)],
    )

    table = reference_table(request, frames, schemas=SCHEMAS)
    counts = reference_counts(request, frames, schemas=SCHEMAS)

    # Student 1 counts from board_b only, without board_a's diploma; 2 is out.
    assert table.cell_labels == [("2015",), ("2016",), ("2017",), ("2018",), ("2019",)]
    assert counts.tolist() == [[1, 1], [1, 0], [0, 0], [0, 0], [0, 0]]


def test_exists_relates_college_entry_to_the_diploma_year() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[measures]]
name = "college_direct"
when = "exists(college, 0 <= entry_year - ossd_year <= 1)"

[[measures]]
name = "college_any"
when = "exists(college)"
"""
    )
    frames = make_frames(
        board_a=[
            board(1, ossd_year=2018),
            board(2, ossd_year=2018),
            board(3),
            board(4, ossd_year=2018),
            board(5, ossd_year=2018),
            board(6, ossd_year=2018),
        ],
        college=[
            {"key": 1, "entry_year": 2018},
            {"key": 2, "entry_year": 2020},
            {"key": 3, "entry_year": 2018},
            {"key": 4, "entry_year": 2021},
            {"key": 4, "entry_year": 2019},
            {"key": 5},
            {"key": 99, "entry_year": 2018},
        ],
    )

    counts = reference_counts(request, frames, schemas=SCHEMAS)

    # Direct: 1 (same year) and 4 (its second record); 3 has no diploma, 5 no
    # entry year. Any record: 1-5; 99 is not in the population.
    assert counts.tolist() == [[6, 2, 5]]


def test_many_partner_dimension_reads_representative_and_exists_reads_any_row() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[rows]]
column = "college.program_area"

[[measures]]
name = "health"
when = "exists(college, program_area == 'health')"
"""
    )
    frames = make_frames(
        board_a=[board(key) for key in range(1, 6)],
        college=[
            {"key": 1, "entry_year": 2019, "program_area": "health"},
            {"key": 1, "entry_year": 2017, "program_area": "trades"},
            {"key": 2, "program_area": "business"},
            {"key": 2, "entry_year": 2018, "program_area": "health"},
            {"key": 3, "entry_year": 2018, "program_area": "business"},
            {"key": 3, "entry_year": 2018, "program_area": "trades"},
            {"key": 5, "entry_year": 2019},
        ],
    )

    table = reference_table(request, frames, schemas=SCHEMAS)
    counts = reference_counts(request, frames, schemas=SCHEMAS)

    # 1: earliest is trades; 2: a null year sorts last, so health; 3: tie, first
    # in the file is business; 4: no record; 5: null area. Student 1 has a health
    # record, though not its representative one.
    assert table.cell_labels == [
        ("business",),
        ("health",),
        ("trades",),
        ("(missing)",),
        ("(no college record)",),
    ]
    assert counts.tolist() == [[1, 0], [1, 1], [1, 1], [1, 0], [1, 0]]


def test_inset_tests_boolean_category_and_integer_columns() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[measures]]
name = "has_iep"
when = "iep"

[[measures]]
name = "no_iep"
when = "iep == false"

[[measures]]
name = "applied_or_ldcc"
when = "program in ['applied', 'locally_developed']"

[[measures]]
name = "not_academic"
when = "program != 'academic'"

[[measures]]
name = "late_cohort"
when = "grade9_year >= 2017"
"""
    )
    frames = make_frames(
        board_a=[
            board(1, 2015, iep=True, program="academic"),
            board(2, 2017, iep=False, program="applied"),
            board(3, 2018, program="locally_developed"),
            board(4, 2019, iep=True),
        ]
    )

    counts = reference_counts(request, frames, schemas=SCHEMAS)

    # Nulls (3's iep, 4's program) satisfy neither a test nor its opposite.
    assert counts.tolist() == [[4, 2, 1, 2, 2, 3]]


def test_bins_and_groups_dimensions_make_the_product_of_their_levels() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[rows]]
column = "grade9_year"
bins = [2012, 2015, 2018]

[[rows]]
column = "program"

[rows.groups]
Academic = ["academic"]
"Applied or LDCC" = ["applied", "locally_developed"]
"""
    )
    frames = make_frames(
        board_a=[
            board(1, 2012, program="academic"),
            board(2, 2014, program="applied"),
            board(3, 2015, program="locally_developed"),
            board(4, 2017, program="applied"),
            board(5, 2019),
        ],
        board_b=[board(6, 2018, program="academic")],
    )

    table = reference_table(request, frames, schemas=SCHEMAS)
    counts = reference_counts(request, frames, schemas=SCHEMAS)

    assert table.dimension_labels == ("grade9_year", "program")
    assert table.cell_labels == [
        ("2012-2014", "Academic"),
        ("2012-2014", "Applied or LDCC"),
        ("2012-2014", "(missing)"),
        ("2015-2017", "Academic"),
        ("2015-2017", "Applied or LDCC"),
        ("2015-2017", "(missing)"),
        ("2018-2019", "Academic"),
        ("2018-2019", "Applied or LDCC"),
        ("2018-2019", "(missing)"),
    ]
    assert counts[:, 0].tolist() == [1, 1, 0, 0, 2, 0, 1, 0, 1]


def test_measure_can_build_on_an_earlier_measure() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[measures]]
name = "ossd"
when = "ossd_year != null"

[[measures]]
name = "ossd_on_time"
when = "ossd and ossd_year - grade9_year <= 4"

[[measures]]
name = "no_ossd"
when = "not ossd"
"""
    )
    frames = make_frames(
        board_a=[
            board(1, 2014, ossd_year=2018),
            board(2, 2014, ossd_year=2019),
            board(3, 2014),
        ]
    )

    counts = reference_counts(request, frames, schemas=SCHEMAS)

    assert counts.tolist() == [[3, 2, 1, 1]]


def test_not_exists_counts_students_without_a_matching_record() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[measures]]
name = "no_university"
when = "not exists(university)"

[[measures]]
name = "no_recent_college"
when = "not exists(college, entry_year >= 2019)"
"""
    )
    frames = make_frames(
        board_a=[board(1), board(2), board(3)],
        college=[
            {"key": 1, "entry_year": 2018},
            {"key": 1, "entry_year": 2020},
            {"key": 2, "entry_year": 2017},
        ],
        university=[{"key": 2, "entry_year": 2020}],
    )

    counts = reference_counts(request, frames, schemas=SCHEMAS)

    # No university: 1 and 3. No college entry from 2019: 2 and 3.
    assert counts.tolist() == [[3, 2, 2]]


def test_population_of_a_single_many_partner_uses_filtered_records() -> None:
    request = make_request(
        """
[population]
partners = ["college"]
where = "entry_year >= 2016"

[[rows]]
column = "program_area"

[[measures]]
name = "health"
when = "exists(college, program_area == 'health')"

[[measures]]
name = "trades"
when = "exists(college, program_area == 'trades')"
"""
    )
    frames = make_frames(
        college=[
            {"key": 1, "entry_year": 2015, "program_area": "trades"},
            {"key": 1, "entry_year": 2018, "program_area": "health"},
            {"key": 1, "entry_year": 2017, "program_area": "business"},
            {"key": 2, "entry_year": 2015, "program_area": "health"},
            {"key": 3, "program_area": "trades"},
            {"key": 3, "entry_year": 2020},
        ]
    )

    counts = reference_counts(request, frames, schemas=SCHEMAS)

    # 1's filtered records are 2018 health and 2017 business; the 2017 one
    # represents it. 2 is out. 3 keeps only its 2020 record, with a null area.
    # The filtered-out trades records do not count for exists().
    assert counts.tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0]]


def test_suppresses_counts_from_one_to_below_the_minimum() -> None:
    counts = np.array([[0, 1, 9, 10, 11]], dtype=np.int64)

    values, suppressed = apply_min_cell_size(counts, 10)

    assert values.tolist() == [[0, 0, 0, 10, 11]]
    assert suppressed.tolist() == [[False, True, True, False, False]]


def test_table_releases_counts_with_small_cells_suppressed() -> None:
    request = make_request(
        BOTH_BOARDS
        + """
[[rows]]
column = "gender"

[[measures]]
name = "ossd"
label = "Earned an OSSD"
when = "ossd_year != null"
""",
        min_cell_size=3,
    )
    rows = [board(key, gender="F", ossd_year=2018) for key in range(1, 5)]
    rows += [
        board(key, gender="M", ossd_year=2018 if key == 5 else None)
        for key in (5, 6, 7)
    ]
    frames = make_frames(board_a=rows)

    table = reference_table(request, frames, schemas=SCHEMAS)

    # F: 4 students, 4 diplomas; M: 3 students, 1 diploma; X: none at all.
    assert table.columns == ("students", "ossd")
    assert table.column_labels == ("Students", "Earned an OSSD")
    assert table.values.tolist() == [[4, 4], [3, 0], [0, 0]]
    assert table.suppressed.tolist() == [[False, False], [False, True], [False, False]]
    assert np.array_equal(table.reasons["min_cell_size"], table.suppressed)
    assert table.digest == request.digest


def test_refuses_a_minimum_cell_size_below_one() -> None:
    counts = np.zeros((1, 1), dtype=np.int64)

    with pytest.raises(ValueError, match="must be at least 1"):
        apply_min_cell_size(counts, 0)


def test_reports_a_partner_without_a_frame() -> None:
    request = make_request(
        BOTH_BOARDS + '[[measures]]\nname = "college"\nwhen = "exists(college)"\n'
    )
    frames = make_frames(board_a=[board(1)])
    del frames["college"]

    with pytest.raises(DataError, match="no frame was given for it"):
        reference_counts(request, frames, schemas=SCHEMAS)


def test_reports_a_student_that_fits_no_level() -> None:
    request = make_request(BOTH_BOARDS + '[[rows]]\ncolumn = "gender"\n')
    frames = make_frames(board_a=[board(1, gender="Z")])

    with pytest.raises(DataError, match="1 population student"):
        reference_counts(request, frames, schemas=SCHEMAS)


def test_asks_for_schemas_to_pick_among_several_records() -> None:
    request = make_request(BOTH_BOARDS + '[[rows]]\ncolumn = "college.program_area"\n')
    frames = make_frames(
        board_a=[board(1)],
        college=[{"key": 1, "entry_year": 2018}, {"key": 1, "entry_year": 2017}],
    )

    with pytest.raises(DataError, match="pass schemas="):
        reference_counts(request, frames)


SYNTHETIC_REQUEST = """
name = "pathways"

[population]
partners = ["board_a", "board_b"]
where = "2014 <= grade9_year <= 2017"

[[rows]]
column = "grade9_year"

[[rows]]
column = "income_quintile"

[[measures]]
name = "ossd"
when = "ossd_year != null"

[[measures]]
name = "college_direct"
when = "exists(college, 0 <= entry_year - ossd_year <= 1)"

[[measures]]
name = "university_direct"
when = "exists(university, 0 <= entry_year - ossd_year <= 1)"

[[measures]]
name = "university_graduate"
when = "exists(university, outcome == 'graduated' and entry_year >= ossd_year)"

[[measures]]
name = "no_postsecondary"
when = "ossd and not exists(college) and not exists(university)"

[[measures]]
name = "special_ed_ossd"
when = "special_ed and ossd"
"""


def load_synthetic(
    out_dir: Path, scale: float
) -> tuple[dict[str, pd.DataFrame], dict[str, Schema]]:
    """Write synthetic files and load them: (frames, schemas) by partner."""
    synth = pytest.importorskip("parties.synth")
    data = pytest.importorskip("parties.data")
    paths = synth.write_synthetic_data(out_dir, seed=0, scale=scale)
    frames: dict[str, pd.DataFrame] = {}
    schemas: dict[str, Schema] = {}
    for partner, path in paths.items():
        schema_file = out_dir / "schemas" / f"{synth.PARTNER_SCHEMAS[partner]}.toml"
        loaded = data.load_partner_data(path, load_schema(schema_file))
        frames[partner], schemas[partner] = loaded.frame, loaded.schema
    return frames, schemas


def test_counts_every_synthetic_population_student_once(tmp_path: Path) -> None:
    frames, schemas = load_synthetic(tmp_path, 0.05)
    request = parse_request_text(SYNTHETIC_REQUEST, schemas)
    keys = set()
    for partner in ("board_a", "board_b"):
        frame = frames[partner]
        cohort = frame["grade9_year"].between(2014, 2017).to_numpy(dtype=bool)
        keys |= set(frame.loc[cohort, "_key"].tolist())

    counts = reference_counts(request, frames, schemas=schemas)
    table = reference_table(request, frames, schemas=schemas)

    assert keys
    assert counts[:, 0].sum() == len(keys)
    assert (counts[:, 1:] <= counts[:, [0]]).all()
    assert table.values.shape == (len(request.cells()), 7)
