"""Tests of the synthetic partner data written by :mod:`parties.synth`."""

from pathlib import Path

import pandas as pd
import pytest

from parties.data import PartnerData, load_partner_data
from parties.errors import ConfigError
from parties.schema import load_schema
from parties.synth import PARTNER_SCHEMAS, write_synthetic_data

PARTNERS = ("board_a", "board_b", "college", "university")


def load_all(out_dir: Path, paths: dict[str, Path]) -> dict[str, PartnerData]:
    return {
        partner: load_partner_data(
            path, load_schema(out_dir / "schemas" / f"{PARTNER_SCHEMAS[partner]}.toml")
        )
        for partner, path in paths.items()
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    out_dir = tmp_path_factory.mktemp("synth")
    return out_dir, write_synthetic_data(out_dir, seed=7, scale=0.2)


@pytest.fixture(scope="module")
def loaded(written) -> dict[str, PartnerData]:
    return load_all(*written)


@pytest.fixture(scope="module")
def students(loaded) -> pd.DataFrame:
    """One row per board student, from the board that granted any diploma."""
    boards = pd.concat([loaded["board_a"].frame, loaded["board_b"].frame])
    boards = boards.sort_values("ossd_year", na_position="first", kind="stable")
    students = boards.drop_duplicates("_key", keep="last").set_index("_key")
    for institution in ("college", "university"):
        keys = set(loaded[institution].frame["_key"])
        students[institution] = students.index.isin(keys)
    students["diploma"] = students["ossd_year"].notna()
    return students


def test_writes_the_four_files_the_schemas_and_a_dictionary(written) -> None:
    out_dir, paths = written

    names = sorted(path.name for path in out_dir.rglob("*") if path.is_file())

    assert set(paths) == set(PARTNERS)
    assert names == [
        "DATA_DICTIONARY.md",
        "board.toml",
        "board_a.csv",
        "board_b.csv",
        "college.csv",
        "college.toml",
        "university.csv",
        "university.toml",
    ]
    dictionary = (out_dir / "DATA_DICTIONARY.md").read_text()
    for name in ("board_a.csv", "college.csv", "credits_g10", "Luhn", "quirks"):
        assert name in dictionary


def test_schemas_read_back_as_declared(written) -> None:
    out_dir, _ = written

    board = load_schema(out_dir / "schemas" / "board.toml")
    college = load_schema(out_dir / "schemas" / "college.toml")

    assert board.records_per_student == "one"
    assert board.record_order == ("grade9_year",)
    assert board.column("income_quintile").nullable
    assert college.records_per_student == "many"
    assert "graduate_certificate" in college.column("credential_type").values


def test_every_file_loads_against_its_schema(loaded) -> None:
    for partner in PARTNERS:
        report = loaded[partner].report

        assert report.rows_kept > 0
        assert report.rows_kept <= report.rows_read


def test_same_seed_gives_identical_files_and_another_seed_differs(
    tmp_path: Path,
) -> None:
    first = write_synthetic_data(tmp_path / "one", seed=3, scale=0.02)
    second = write_synthetic_data(tmp_path / "two", seed=3, scale=0.02)
    other = write_synthetic_data(tmp_path / "three", seed=4, scale=0.02)

    for partner in PARTNERS:
        assert first[partner].read_bytes() == second[partner].read_bytes()
        assert first[partner].read_bytes() != other[partner].read_bytes()
    dictionaries = [
        (tmp_path / name / "DATA_DICTIONARY.md").read_bytes() for name in ("one", "two")
    ]
    assert dictionaries[0] == dictionaries[1]


def test_sizes_follow_the_scale(tmp_path: Path) -> None:
    small = write_synthetic_data(tmp_path / "small", scale=0.05)
    large = write_synthetic_data(tmp_path / "large", scale=0.1)

    for partner in PARTNERS:
        rows_small = len(small[partner].read_text().splitlines())
        rows_large = len(large[partner].read_text().splitlines())
        assert 1.7 < rows_large / rows_small < 2.3
    board_a = len(small["board_a"].read_text().splitlines()) - 1
    assert 170 * 8 <= board_a <= 170 * 8 * 1.1


def test_movers_appear_at_both_boards_with_the_same_facts(loaded) -> None:
    board_a = loaded["board_a"].frame.set_index("_key")
    board_b = loaded["board_b"].frame.set_index("_key")

    shared = board_a.index.intersection(board_b.index)

    assert 0.01 < len(shared) / len(board_a) < 0.1
    for column in ("gender", "birth_year", "grade9_year"):
        assert (board_a.loc[shared, column] == board_b.loc[shared, column]).all()
    diplomas = board_a.loc[shared, "ossd_year"].notna().astype(int) + board_b.loc[
        shared, "ossd_year"
    ].notna().astype(int)
    assert (diplomas <= 1).all()
    assert (diplomas == 1).any()


def test_international_students_have_no_oen(loaded) -> None:
    college = loaded["college"].report
    university = loaded["university"].report

    college_missing = len(college.excluded["missing id"]) / college.rows_read
    university_missing = len(university.excluded["missing id"]) / university.rows_read

    assert 0.03 < college_missing < 0.12
    assert 0.05 < university_missing < 0.15
    assert loaded["board_a"].report.excluded["missing id"] == []
    assert loaded["board_b"].report.excluded["missing id"] == []


def test_most_college_and_university_students_come_from_elsewhere(
    loaded, students
) -> None:
    for institution in ("college", "university"):
        keys = set(loaded[institution].frame["_key"])
        no_oen = len(loaded[institution].report.excluded["missing id"])

        share = len(keys & set(students.index)) / (len(keys) + no_oen)

        assert 0.2 < share < 0.4


def test_planted_bad_oens_are_excluded_by_the_loader(loaded) -> None:
    for partner in PARTNERS:
        report = loaded[partner].report

        bad = len(report.excluded["malformed id"]) + len(
            report.excluded["bad check digit"]
        )

        assert report.excluded["malformed id"]
        assert report.excluded["bad check digit"]
        assert bad / report.rows_read < 0.005


def test_boards_hold_exact_and_conflicting_duplicates(loaded) -> None:
    for board in ("board_a", "board_b"):
        report = loaded[board].report

        assert report.duplicates_merged >= 1
        assert report.duplicates_conflicting >= 1


def test_diploma_and_postsecondary_rates_rise_with_income(students) -> None:
    by_quintile = students.groupby("income_quintile")[["diploma", "university"]].mean()

    assert by_quintile.loc[1, "diploma"] < by_quintile.loc[5, "diploma"]
    assert by_quintile.loc[1, "university"] < by_quintile.loc[5, "university"]
    assert 0.7 < students["diploma"].mean() < 0.9


def test_stream_special_education_and_credits_shape_the_diploma(students) -> None:
    by_stream = students.groupby("math_stream")["diploma"].mean()
    by_special_ed = students.groupby("special_ed")["diploma"].mean()
    on_track = students["credits_g10"] >= 16

    assert by_stream["academic"] > by_stream["applied"] > by_stream["locally_developed"]
    assert by_special_ed[True] < by_special_ed[False]
    assert students[on_track]["diploma"].mean() > students[~on_track]["diploma"].mean()


def test_university_entrants_are_mostly_academic_and_college_ones_mixed(
    students,
) -> None:
    university = students[students["university"]]["math_stream"]
    college = students[students["college"]]["math_stream"]

    assert (university == "academic").mean() > 0.85
    assert 0.3 < (college == "academic").mean() < 0.8
    assert (students["university"] & students["college"]).any()


def test_most_entrants_start_in_their_diploma_year(loaded, students) -> None:
    university = loaded["university"].frame
    first = university.sort_values("entry_year").drop_duplicates("_key")
    first = first.join(students["ossd_year"], on="_key", how="inner").dropna()

    delay = first["entry_year"] - first["ossd_year"]

    assert 0.5 < (delay == 0).mean() < 0.8
    assert (delay >= 0).all()


def test_only_recent_entries_are_still_enrolled(loaded) -> None:
    for institution in ("college", "university"):
        frame = loaded[institution].frame

        enrolled = frame[frame["outcome"] == "enrolled"]
        graduated = frame[frame["outcome"] == "graduated"]

        assert enrolled["entry_year"].min() >= 2018
        assert graduated["credential_year"].notna().all()
        assert (
            frame.loc[frame["outcome"] != "graduated", "credential_year"].isna().all()
        )
        assert (graduated["credential_year"] > graduated["entry_year"]).all()


def test_writes_parquet_files_that_load_the_same_way(tmp_path: Path) -> None:
    paths = write_synthetic_data(tmp_path, scale=0.02, fmt="parquet")

    data = load_all(tmp_path, paths)

    assert paths["college"].suffix == ".parquet"
    assert all(data[partner].report.rows_kept > 0 for partner in PARTNERS)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"scale": 0}, "scale = 0 must be a positive number"),
        ({"scale": float("nan")}, "must be a positive number"),
        ({"fmt": "xlsx"}, "fmt = 'xlsx' is not supported"),
    ],
)
def test_rejects_a_bad_scale_or_format(tmp_path: Path, options, match) -> None:
    with pytest.raises(ConfigError, match=match):
        write_synthetic_data(tmp_path, **options)
