"""Tests of loading and checking a partner's file, :mod:`parties.data`."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from parties.data import PartnerData, describe_report, load_partner_data
from parties.errors import ConfigError, DataError
from parties.oen import append_check_digits, format_oen_keys
from parties.schema import Schema, schema_from_dict

# Valid OENs; the first two start with zeros.
OENS = format_oen_keys(
    append_check_digits(np.array([1234, 5678901, 31415926, 27182818]))
)
A, B, C, D = (str(oen) for oen in OENS)
BAD_CHECK = A[:-1] + str((int(A[-1]) + 1) % 10)
HEADER = "oen,gender,grade9_year,income_quintile,special_ed,ossd_year"


def board_schema(**changes) -> Schema:
    raw = {
        "name": "board",
        "id_column": "oen",
        "records_per_student": "one",
        "record_order": ["grade9_year"],
        "columns": {
            "gender": {"type": "category", "values": ["F", "M", "X"]},
            "grade9_year": {"type": "integer", "min": 2012, "max": 2019},
            "income_quintile": {
                "type": "integer",
                "min": 1,
                "max": 5,
                "nullable": True,
            },
            "special_ed": {"type": "boolean"},
            "ossd_year": {
                "type": "integer",
                "min": 2015,
                "max": 2027,
                "nullable": True,
            },
        },
    }
    raw.update(changes)
    return schema_from_dict(raw)


def write(
    tmp_path: Path, text: str, name: str = "board.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(*rows: str, header: str = HEADER, newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline


def report_text(data: PartnerData) -> str:
    """Everything a successful load tells a person: notes, summary and report."""
    report = data.report
    return "\n".join([*report.notes, describe_report(report), repr(report)])


def assert_no_oen(text: str, *oens: str) -> None:
    for oen in (A, B, C, D, BAD_CHECK, *oens):
        assert oen not in text
        assert f"{oen[:3]}-{oen[3:6]}-{oen[6:]}" not in text


# Files that are odd but valid.


def test_loads_a_plain_file_into_typed_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        csv_text(f"{A},F,2015,3,false,2019", f"{B},M,2016,,true,"),
    )

    data = load_partner_data(path, board_schema())

    frame = data.frame
    assert list(frame.columns) == [
        "_key",
        "gender",
        "grade9_year",
        "income_quintile",
        "special_ed",
        "ossd_year",
    ]
    assert frame["_key"].dtype == np.int64
    assert frame["_key"].tolist() == [int(A), int(B)]
    assert frame["gender"].dtype == pd.StringDtype()
    assert frame["grade9_year"].dtype == pd.Int64Dtype()
    assert frame["special_ed"].dtype == pd.BooleanDtype()
    assert frame["income_quintile"].isna().tolist() == [False, True]
    assert frame["ossd_year"].tolist()[0] == 2019
    assert data.report.rows_read == data.report.rows_kept == 2


def test_reads_a_file_with_bom_and_crlf_line_ends(tmp_path: Path) -> None:
    text = "\ufeff" + csv_text(f"{A},F,2015,3,no,2019", newline="\r\n")
    path = write(tmp_path, text)

    data = load_partner_data(path, board_schema())

    assert data.frame["gender"].tolist() == ["F"]
    assert data.frame["ossd_year"].tolist() == [2019]


def test_reads_quoted_fields_and_strips_whitespace(tmp_path: Path) -> None:
    header = HEADER + ",comment"
    row = f'"{A}"," F ","2015", 3 ,"TRUE","2019","moved, then came back"'
    path = write(tmp_path, csv_text(row, header=header))

    data = load_partner_data(path, board_schema())

    assert data.frame.loc[0, "gender"] == "F"
    assert data.frame.loc[0, "income_quintile"] == 3
    assert bool(data.frame.loc[0, "special_ed"]) is True


def test_accepts_columns_in_any_order(tmp_path: Path) -> None:
    header = "ossd_year,special_ed,income_quintile,grade9_year,gender,oen"
    path = write(tmp_path, csv_text(f"2019,0,2,2015,M,{A}", header=header))

    data = load_partner_data(path, board_schema())

    assert data.frame.columns[0] == "_key"
    assert data.frame.loc[0, "gender"] == "M"
    assert data.frame.loc[0, "ossd_year"] == 2019


def test_ignores_an_extra_column_with_a_note(tmp_path: Path) -> None:
    path = write(
        tmp_path, csv_text(f"{A},F,2015,3,n,,Toronto", header=HEADER + ",city")
    )

    data = load_partner_data(path, board_schema())

    assert "city" not in data.frame.columns
    assert any("city" in note for note in data.report.notes)


def test_reads_integral_floats_in_integer_columns(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{A},F,2015.0,3.,f,2019.00"))

    data = load_partner_data(path, board_schema())

    assert data.frame.loc[0, "grade9_year"] == 2015
    assert data.frame.loc[0, "income_quintile"] == 3
    assert data.frame.loc[0, "ossd_year"] == 2019


def test_matches_a_category_regardless_of_case(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{A},f,2015,3,Yes,", f"{B},x,2015,3,N,"))

    data = load_partner_data(path, board_schema())

    assert data.frame["gender"].tolist() == ["F", "X"]
    assert data.frame["special_ed"].tolist() == [True, False]


def test_reads_oens_with_dashes_spaces_and_leading_zeros(tmp_path: Path) -> None:
    dashed = f"{A[:3]}-{A[3:6]}-{A[6:]}"
    spaced = f" {B[:3]} {B[3:6]} {B[6:]} "
    path = write(tmp_path, csv_text(f"{dashed},F,2015,,t,", f"{spaced},M,2015,,f,"))

    data = load_partner_data(path, board_schema())

    assert A.startswith("0") and B.startswith("0")
    assert data.frame["_key"].tolist() == [int(A), int(B)]
    assert data.report.rows_kept == 2


@pytest.mark.parametrize(
    "token", ["", "NA", "N/A", "NULL", "null", "None", "NaN", " NA "]
)
def test_reads_null_tokens_as_null(tmp_path: Path, token: str) -> None:
    path = write(tmp_path, csv_text(f"{A},F,2015,{token},false,{token}"))

    data = load_partner_data(path, board_schema())

    assert data.frame["income_quintile"].isna().all()
    assert data.frame["ossd_year"].isna().all()


def test_a_declared_category_value_wins_over_a_null_token(tmp_path: Path) -> None:
    raw = board_schema().to_dict()
    raw["columns"]["gender"] = {"type": "category", "values": ["F", "M", "None"]}
    path = write(tmp_path, csv_text(f"{A},None,2015,,false,"))

    data = load_partner_data(path, schema_from_dict(raw))

    assert data.frame["gender"].tolist() == ["None"]


def test_reads_parquet_with_a_numeric_id_column(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "special_ed": [True, False],
            "oen": [int(A), int(B)],
            "gender": ["F", "m"],
            "grade9_year": [2015, 2016],
            "income_quintile": [3.0, np.nan],
            "ossd_year": pd.array([2019, None], dtype="Int64"),
            "notes": ["a", "b"],
        }
    )
    path = tmp_path / "board.parquet"
    frame.to_parquet(path)

    data = load_partner_data(path, board_schema())

    assert data.frame["_key"].tolist() == [int(A), int(B)]
    assert data.frame["gender"].tolist() == ["F", "M"]
    assert data.frame["income_quintile"].isna().tolist() == [False, True]
    assert data.frame["special_ed"].tolist() == [True, False]
    assert any("notes" in note for note in data.report.notes)


def test_reads_parquet_with_a_text_id_column_and_pq_suffix(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "oen": [A, None],
            "gender": ["F", "M"],
            "grade9_year": ["2015", "2016"],
            "income_quintile": [None, "2"],
            "special_ed": ["yes", "no"],
            "ossd_year": [None, None],
        }
    )
    path = tmp_path / "board.pq"
    frame.to_parquet(path)

    data = load_partner_data(path, board_schema())

    assert data.frame["_key"].tolist() == [int(A)]
    assert data.report.excluded["missing id"] == [2]


def test_skips_the_check_digit_when_the_schema_says_none(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{BAD_CHECK},F,2015,,false,"))

    data = load_partner_data(path, board_schema(id_check="none"))

    assert data.frame["_key"].tolist() == [int(BAD_CHECK)]


def test_loads_a_file_with_a_header_and_no_rows(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text())

    data = load_partner_data(path, board_schema())

    assert len(data.frame) == 0
    assert data.frame["grade9_year"].dtype == pd.Int64Dtype()


# Rows with an unusable id.


def test_excludes_rows_with_unusable_ids_and_lists_their_numbers(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        csv_text(
            f"{A},F,2015,,false,",
            ",F,2015,,false,",
            f"{BAD_CHECK},F,2015,,false,",
            f"{B[:-1]},F,2015,,false,",
            f"{C},M,2016,,true,",
            "NA,F,2015,,false,",
        ),
    )

    data = load_partner_data(path, board_schema())

    report = data.report
    assert report.excluded == {
        "missing id": [2, 6],
        "malformed id": [4],
        "bad check digit": [3],
    }
    assert (report.rows_read, report.rows_kept) == (6, 2)
    assert data.frame["_key"].tolist() == [int(A), int(C)]
    assert any("Excluded 4 row(s)" in note for note in report.notes)
    assert_no_oen(report_text(data), B[:-1])


def test_does_not_check_other_columns_of_excluded_rows(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{A},F,2015,,false,", ",Q,1900,9,maybe,"))

    data = load_partner_data(path, board_schema())

    assert data.report.excluded["missing id"] == [2]


def test_unusable_ids_fail_the_load_when_asked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        csv_text(
            f"{A},F,2015,,false,", ",F,2015,,false,", f"{BAD_CHECK},F,2015,,false,"
        ),
    )

    with pytest.raises(DataError, match=r"'board\.csv'") as caught:
        load_partner_data(path, board_schema(), on_invalid_id="error")

    message = str(caught.value)
    assert "data row 2, id column 'oen': the id is missing" in message
    assert "data row 3, id column 'oen': the id fails its check digit" in message
    assert "on_invalid_id='exclude'" in message
    assert_no_oen(message)


def test_rejects_an_unknown_on_invalid_id_choice(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{A},F,2015,,false,"))

    with pytest.raises(ConfigError, match="on_invalid_id = 'drop'"):
        load_partner_data(path, board_schema(), on_invalid_id="drop")


# Values that do not fit the schema.


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (f"{B},Q,2015,,false,", r"data row 2, column 'gender': value 'Q' is not one"),
        (
            f"{B},F,2011,,false,",
            r"data row 2, column 'grade9_year': value '2011' is "
            r"outside the declared range 2012\.\.2019",
        ),
        (
            f"{B},F,2015.5,,false,",
            r"data row 2, column 'grade9_year': value "
            r"'2015\.5' is not a whole number",
        ),
        (f"{B},F,soon,,false,", r"data row 2, column 'grade9_year': value 'soon'"),
        (
            f"{B},F,2015,,maybe,",
            r"data row 2, column 'special_ed': value 'maybe' is "
            r"not a boolean",
        ),
        (
            f"{B},F,,,false,",
            r"data row 2, column 'grade9_year': the value is empty "
            r"but the column is not nullable",
        ),
        (f"{B},,2015,,false,", r"data row 2, column 'gender': the value is empty"),
    ],
)
def test_reports_a_bad_value_with_file_row_column_and_value(
    tmp_path: Path, row: str, match: str
) -> None:
    path = write(tmp_path, csv_text(f"{A},F,2015,,false,", row))

    with pytest.raises(DataError, match=rf"(?s)'board\.csv'.*{match}") as caught:
        load_partner_data(path, board_schema())

    message = str(caught.value)
    assert "Data file 'board.csv' does not match schema 'board'" in message
    assert "Correct these rows" in message
    assert_no_oen(message)


def test_reports_a_value_matching_several_declared_values_ignoring_case(
    tmp_path: Path,
) -> None:
    raw = board_schema().to_dict()
    raw["columns"]["gender"] = {"type": "category", "values": ["Xy", "xY", "F"]}
    path = write(tmp_path, csv_text(f"{A},xY,2015,,no,", f"{B},XY,2015,,no,"))

    with pytest.raises(
        DataError,
        match=r"(?s)'board\.csv'.*data row 2, column 'gender': value 'XY' matches "
        "several declared values",
    ):
        load_partner_data(path, schema_from_dict(raw))


def test_lists_twenty_problems_and_counts_the_rest(tmp_path: Path) -> None:
    rows = [f"{A},Q,2030,9,maybe,"] * 10
    path = write(tmp_path, csv_text(*rows))

    with pytest.raises(
        DataError, match=r"(?s)'board\.csv'.*\.\.\. and 20 more"
    ) as caught:
        load_partner_data(path, board_schema(), on_invalid_id="error")

    message = str(caught.value)
    assert "40 problem(s) found" in message
    assert message.count("  data row ") == 20
    assert message.index("data row 1, column 'gender'") < message.index(
        "data row 1, column 'grade9_year'"
    )
    assert "data row 5, column 'special_ed'" in message
    assert "data row 6," not in message


def test_reports_missing_declared_columns(tmp_path: Path) -> None:
    header = "oen,gender,grade9_year,special_ed"
    path = write(tmp_path, csv_text(f"{A},F,2015,no", header=header))

    with pytest.raises(
        DataError,
        match=r"'board\.csv' lacks the column\(s\) 'income_quintile', "
        r"'ossd_year' declared in schema 'board'",
    ):
        load_partner_data(path, board_schema())


def test_reports_a_missing_id_column(tmp_path: Path) -> None:
    header = HEADER.replace("oen", "student_number")
    path = write(tmp_path, csv_text(f"{A},F,2015,,no,", header=header))

    with pytest.raises(DataError, match=r"lacks the column\(s\) 'oen'") as caught:
        load_partner_data(path, board_schema())

    assert_no_oen(str(caught.value))


def test_reports_a_repeated_column(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{A},F,2015,,no,,F", header=HEADER + ",gender"))

    with pytest.raises(DataError, match="more than one column named 'gender'"):
        load_partner_data(path, board_schema())


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("board.txt", HEADER, r"'board\.txt' has suffix '\.txt'; use \.csv"),
        ("board.csv", "", r"'board\.csv' is empty"),
        ("board.parquet", "not parquet", r"'board\.parquet' is not a readable Parquet"),
    ],
)
def test_reports_files_that_cannot_be_read(
    tmp_path: Path, name: str, content: str, match: str
) -> None:
    path = write(tmp_path, content, name)

    with pytest.raises(DataError, match=match):
        load_partner_data(path, board_schema())


def test_reports_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{A},Fé,2015,,no,"), encoding="latin-1")

    with pytest.raises(DataError, match=r"'board\.csv' is not UTF-8"):
        load_partner_data(path, board_schema())


def test_reports_a_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.csv' does not exist"):
        load_partner_data(tmp_path / "nowhere.csv", board_schema())


def test_reports_a_row_with_too_many_fields(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text(f"{A},F,2015,,no,", f"{B},F,2015,,no,,extra"))

    with pytest.raises(DataError, match=r"'board\.csv' is not a well-formed"):
        load_partner_data(path, board_schema())


# Several rows for one student.


def test_merges_exact_duplicates_silently(tmp_path: Path) -> None:
    row = f"{A},F,2015,3,no,2019"
    path = write(tmp_path, csv_text(row, f"{B},M,2015,,no,", row, row))

    data = load_partner_data(path, board_schema())

    assert data.frame["_key"].tolist() == [int(A), int(B)]
    assert data.report.duplicates_merged == 2
    assert data.report.duplicates_conflicting == 0


def test_counts_rows_as_exact_duplicates_when_only_the_id_spelling_differs(
    tmp_path: Path,
) -> None:
    dashed = f"{A[:3]}-{A[3:6]}-{A[6:]}"
    path = write(tmp_path, csv_text(f"{A},F,2015,3,no,", f"{dashed},f,2015.0,3,0,"))

    data = load_partner_data(path, board_schema())

    assert data.report.duplicates_merged == 1
    assert len(data.frame) == 1


def test_keeps_the_first_conflicting_row_by_record_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        csv_text(
            f"{A},F,2016,3,no,",
            f"{B},M,,1,no,",
            f"{A},F,2015,3,no,2019",
            f"{B},M,2017,2,no,",
            f"{B},M,2017,4,no,",
            f"{C},F,2015,1,no,",
        ),
    )
    schema = board_schema()
    raw = schema.to_dict()
    raw["columns"]["grade9_year"]["nullable"] = True

    data = load_partner_data(path, schema_from_dict(raw))

    frame = data.frame.set_index("_key")
    assert frame.loc[int(A), "grade9_year"] == 2015
    assert frame.loc[int(A), "ossd_year"] == 2019
    assert frame.loc[int(B), "income_quintile"] == 2
    assert data.frame["_key"].tolist() == [int(A), int(B), int(C)]
    assert data.report.duplicates_conflicting == 3
    assert any("2 student(s) had rows that disagree" in n for n in data.report.notes)
    assert_no_oen(report_text(data))


def test_keeps_every_row_for_partners_with_many_records(tmp_path: Path) -> None:
    row = f"{A},F,2015,3,no,2019"
    path = write(tmp_path, csv_text(row, row, f"{A},F,2016,3,no,"))

    data = load_partner_data(path, board_schema(records_per_student="many"))

    assert len(data.frame) == 3
    assert data.report.duplicates_merged == data.report.duplicates_conflicting == 0


# What a load tells a person.


def test_describes_a_load_without_identifiers(tmp_path: Path) -> None:
    row = f"{A},F,2015,3,no,2019"
    path = write(
        tmp_path,
        csv_text(
            row, row, f"{A},F,2016,3,no,", f"{BAD_CHECK},F,2015,,no,", header=HEADER
        ),
    )

    data = load_partner_data(path, board_schema())
    summary = describe_report(data.report)

    assert summary.splitlines()[0] == "board.csv: read 4 row(s), kept 1."
    assert "1 bad check digit" in summary
    assert "1 exact row(s) dropped, 1 conflicting row(s) dropped" in summary
    assert_no_oen(summary)


def test_rejects_a_schema_that_declares_the_key_column(tmp_path: Path) -> None:
    raw = board_schema().to_dict()
    raw["columns"]["_key"] = {"type": "boolean"}
    path = write(tmp_path, csv_text(f"{A},F,2015,,no,"))

    with pytest.raises(ConfigError, match="declares a column named '_key'"):
        load_partner_data(path, schema_from_dict(raw))


def test_never_puts_an_oen_in_messages(tmp_path: Path) -> None:
    rows = [
        f"{A},F,2015,3,no,2019",
        f"{B},Q,2015,3,no,2019",
        f"{BAD_CHECK},F,2015,3,no,2019",
        f"{C[:-1]},F,2015,3,no,2019",
        f"{D},F,2015,3,no,2030",
    ]
    path = write(tmp_path, csv_text(*rows))

    with pytest.raises(DataError) as caught:
        load_partner_data(path, board_schema(), on_invalid_id="error")

    assert_no_oen(str(caught.value), C[:-1])
    assert "value 'Q'" in str(caught.value)
