"""Synthetic record files for the four data partners, for demos and tests.

The model, in short. Each school board enrols eight grade-9 cohorts (2012-2019).
A student gets a gender, a birth year, a neighbourhood income quintile, a special
education flag and a latent "readiness" score that rises with the quintile and
falls with special education. Readiness sets the grade-9 math stream and the
credits earned by the end of grade 10; all of them set the chance of an Ontario
Secondary School Diploma (OSSD), granted mostly four years after grade 9. Diploma
holders enter university (mostly from the academic stream) or college, directly
or a few years later, and some go on to the other kind of institution afterwards;
a few students without a diploma enter college later as mature students. At an
institution a student follows one to three programs in a row, each ending in
graduation or leaving, or still under way when the extracts are taken.

Most college and university students come from elsewhere: other boards, mature
students whose OENs the two boards never saw, and international students with no
OEN. A few students move between the two boards. The files share no ground-truth
column: only the OEN links them. A few data-quality quirks are planted on purpose.

Everything is vectorised with numpy, and one seed gives byte-identical files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import tomli_w

from parties.errors import ConfigError
from parties.oen import append_check_digits, format_oen_keys
from parties.schema import Schema, load_schema, schema_from_dict

Table = tuple[tuple[Any, float], ...]  # (label, probability) pairs

# Each partner's file and the schema that declares it.
PARTNER_SCHEMAS = {
    "board_a": "board",
    "board_b": "board",
    "college": "college",
    "university": "university",
}
FORMATS = {"csv": ".csv", "parquet": ".parquet"}
INSTITUTIONS = ("college", "university")

# The year the extracts were taken: nothing later is observed.
OBSERVED_UNTIL = 2025

# Secondary school.
COHORTS = tuple(range(2012, 2020))
BOARD_COHORT_SIZES = {"board_a": 3400, "board_b": 2400}
GENDERS: Table = (("F", 0.495), ("M", 0.495), ("X", 0.01))
AGE_AT_GRADE9: Table = ((14, 0.90), (15, 0.06), (13, 0.04))
QUINTILE_SHARES = {
    "board_a": (0.17, 0.19, 0.20, 0.22, 0.22),
    "board_b": (0.25, 0.23, 0.20, 0.17, 0.15),
}
QUINTILE_NULL_RATE = 0.03
SPECIAL_ED_RATE = 0.14
CREDITS_NULL_RATE = 0.02
STREAM_CUTS = (-1.8, -0.5)  # placement below: locally developed, then applied
DIPLOMA_DELAYS: Table = ((4, 0.78), (5, 0.17), (6, 0.05))  # years after grade 9
MOVER_RATE = 0.03
MOVED_BEFORE_GRADE10 = 0.4  # movers whose old board has no grade-10 credits
NEW_QUINTILE_AFTER_MOVE = 0.5

# Postsecondary entry of board students.
ENTRY_DELAYS: Table = ((0, 0.65), (1, 0.14), (2, 0.08), (3, 0.05), (4, 0.04), (5, 0.04))
UNIVERSITY_THEN_COLLEGE = 0.07
COLLEGE_THEN_UNIVERSITY = 0.09
MATURE_COLLEGE_RATE = 0.10  # students without a diploma who enter college later

# The other students of the college and the university.
BOARD_ORIGIN_SHARE = 0.28
INTERNATIONAL_SHARE = {"college": 0.07, "university": 0.10}
OTHER_KINDS: Table = (("school", 0.7), ("mature", 0.3))
OTHERS_AT_BOTH = 0.05
ENTRY_YEAR_WEIGHTS: Table = tuple(
    (year, 1 + 0.04 * (year - 2010)) for year in range(2010, OBSERVED_UNTIL + 1)
)

# Programs.
MAX_PROGRAMS = 3
FIELDS = (
    "business",
    "health",
    "engineering_technology",
    "arts_humanities",
    "science",
    "social_community_services",
)
FIELD_SHARES = {
    "college": tuple(zip(FIELDS, (0.28, 0.22, 0.20, 0.08, 0.06, 0.16), strict=True)),
    "university": tuple(zip(FIELDS, (0.2, 0.14, 0.14, 0.22, 0.22, 0.08), strict=True)),
}
KEEP_FIELD = 0.7  # a follow-up program stays in the same field
PROGRAM_YEARS = {
    "college": {
        "certificate": 1,
        "diploma": 2,
        "advanced_diploma": 3,
        "graduate_certificate": 1,
        "bachelor": 4,
    },
    "university": {"bachelor": 4, "master": 2, "doctorate": 5, "certificate": 1},
}
FIRST_CREDENTIALS: dict[str, Table] = {
    "college/school": (
        ("certificate", 0.18),
        ("diploma", 0.50),
        ("advanced_diploma", 0.24),
        ("bachelor", 0.08),
    ),
    "college/mature": (("certificate", 0.45), ("diploma", 0.45), ("bachelor", 0.1)),
    "college/international": (
        ("graduate_certificate", 0.45),
        ("diploma", 0.35),
        ("advanced_diploma", 0.10),
        ("certificate", 0.10),
    ),
    "college/after_other": (
        ("graduate_certificate", 0.55),
        ("certificate", 0.20),
        ("diploma", 0.25),
    ),
    "university/school": (("bachelor", 0.94), ("certificate", 0.06)),
    "university/mature": (("bachelor", 0.6), ("certificate", 0.4)),
    "university/international": (
        ("bachelor", 0.55),
        ("master", 0.35),
        ("doctorate", 0.07),
        ("certificate", 0.03),
    ),
    "university/after_other": (("bachelor", 0.9), ("certificate", 0.1)),
}
FOLLOW_UPS: dict[str, Table] = {  # next credential after a graduation
    "college/any": (
        ("graduate_certificate", 0.5),
        ("advanced_diploma", 0.2),
        ("certificate", 0.3),
    ),
    "university/bachelor": (
        ("master", 0.75),
        ("certificate", 0.2),
        ("doctorate", 0.05),
    ),
    "university/master": (("doctorate", 0.6), ("certificate", 0.4)),
    "university/any": (("certificate", 1.0),),
}
FOLLOW_UP_RATE = {"college": 0.10, "university": 0.18}
SWITCH_RATE = 0.25  # leavers who start another program at the same institution
EXTRA_YEARS: Table = ((0, 0.70), (1, 0.22), (2, 0.08))
GAP_YEARS: Table = ((0, 0.6), (1, 0.3), (2, 0.1))
GRADUATION_LOGIT = {"college": 0.9, "university": 1.2}

# Planted data-quality quirks; every file that can hold a quirk gets at least one.
MALFORMED_OEN_RATE = 0.0008  # half a wrong check digit, half only eight digits
EXACT_DUPLICATE_RATE = 0.001  # boards only
CONFLICTING_DUPLICATE_RATE = 0.0005  # boards only: a copy one grade-9 year later
DASHED_OEN_RATE = 0.01  # college only: written as 123-456-789


def write_synthetic_data(
    out_dir: str | Path, *, seed: int = 0, scale: float = 1.0, fmt: str = "csv"
) -> dict[str, Path]:
    """Write the four partners' files, their schemas and a data dictionary.

    Returns the data file of each partner (``board_a``, ``board_b``, ``college``,
    ``university``); :data:`PARTNER_SCHEMAS` names the schema of each, written to
    ``out_dir/schemas/NAME.toml``. ``scale`` multiplies every population size and
    ``fmt`` is ``"csv"`` or ``"parquet"``.
    """
    if not np.isfinite(scale) or scale <= 0:
        raise ConfigError(f"scale = {scale!r} must be a positive number, such as 1.")
    if fmt not in FORMATS:
        raise ConfigError(f"fmt = {fmt!r} is not supported; use 'csv' or 'parquet'.")
    out_dir = Path(out_dir)
    (out_dir / "schemas").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    # Simulate people first: board students, then everybody else at the
    # college and the university.
    students = _board_students(rng, scale)
    board_rows = _careers(rng, _board_starts(rng, students))
    other_starts = _other_starts(rng, board_rows, first_person=len(students))
    enrolments = pd.concat([board_rows, _careers(rng, other_starts)])
    n_people = len(students) + len(other_starts)
    keys = append_check_digits(rng.choice(10**8, size=n_people, replace=False))
    international = other_starts["kind"] == "international"
    keys[other_starts.loc[international, "person"].to_numpy()] = -1

    # Turn people into each partner's records.
    tables = {
        board: _board_records(rng, students, board) for board in BOARD_COHORT_SIZES
    }
    for institution in INSTITUTIONS:
        rows = enrolments[enrolments["institution"] == institution]
        tables[institution] = rows.drop(columns="institution").sort_values(
            ["person", "entry_year"], kind="stable"
        )

    # Write the schemas, then each data file with its quirks planted.
    schemas = synthetic_schemas()
    for name, schema in schemas.items():
        schema_path = out_dir / "schemas" / f"{name}.toml"
        schema_path.write_text(tomli_w.dumps(schema.to_dict()), encoding="utf-8")
        load_schema(schema_path)
    paths: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for partner, table in tables.items():
        oens, clean = _planted_oens(rng, keys[table.pop("person").to_numpy()], partner)
        table = _planted_duplicates(rng, table.assign(oen=oens), clean, partner)
        table = table.iloc[rng.permutation(len(table))]
        paths[partner] = out_dir / f"{partner}{FORMATS[fmt]}"
        _write_table(table, schemas[PARTNER_SCHEMAS[partner]], paths[partner], fmt)
        counts[partner] = len(table)

    text = _data_dictionary(schemas, paths, counts, seed=seed, scale=scale)
    (out_dir / "DATA_DICTIONARY.md").write_text(text, encoding="utf-8")
    return paths


def synthetic_schemas() -> dict[str, Schema]:
    """Return the declared schemas of the synthetic files, by schema name."""
    board = {
        "name": "board",
        "description": "Synthetic data: one row per student enrolled in secondary "
        "school at the board.",
        "id_column": "oen",
        "id_check": "luhn",
        "records_per_student": "one",
        "record_order": ["grade9_year"],
        "columns": {
            "gender": _category(["F", "M", "X"], "Gender recorded by the board."),
            "birth_year": _integer(1996, 2007, "Year of birth."),
            "grade9_year": _integer(COHORTS[0], COHORTS[-1], "Year grade 9 began."),
            "income_quintile": _integer(
                1, 5, "Neighbourhood income quintile; 1 is the lowest.", nullable=True
            ),
            "math_stream": _category(
                ["academic", "applied", "locally_developed"],
                "Grade-9 mathematics stream.",
            ),
            "special_ed": {
                "type": "boolean",
                "label": "Identified for special education.",
            },
            "credits_g10": _integer(
                0, 24, "Credits by the end of grade 10; 16 is on track.", nullable=True
            ),
            "ossd_year": _integer(
                2015, 2027, "Year of the OSSD; empty if none here.", nullable=True
            ),
        },
    }
    schemas = {"board": board}
    for institution in INSTITUTIONS:
        schemas[institution] = {
            "name": institution,
            "description": f"Synthetic data: one row per program enrolment at the "
            f"{institution}.",
            "id_column": "oen",
            "id_check": "luhn",
            "records_per_student": "many",
            "record_order": ["entry_year"],
            "columns": {
                "entry_year": _integer(2010, 2026, "Year the program started."),
                "credential_type": _category(
                    list(PROGRAM_YEARS[institution]), "Credential the program leads to."
                ),
                "field": _category(list(FIELDS), "Field of study."),
                "outcome": _category(
                    ["graduated", "left", "enrolled"],
                    "Graduated, left without the credential, or still enrolled.",
                ),
                "credential_year": _integer(
                    2011,
                    2027,
                    "Year of the credential; empty unless graduated.",
                    nullable=True,
                ),
            },
        }
    return {
        name: schema_from_dict(raw, source=f"synthetic schema {name!r}")
        for name, raw in schemas.items()
    }


def _category(values: list[str], label: str) -> dict[str, Any]:
    return {"type": "category", "values": values, "label": label}


def _integer(
    low: int, high: int, label: str, *, nullable: bool = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "integer", "min": low, "max": high, "label": label}
    if nullable:
        spec["nullable"] = True
    return spec


def _pick(rng: np.random.Generator, table: Table, n: int) -> np.ndarray:
    """Draw ``n`` labels from a table of (label, probability) pairs."""
    labels = np.array([label for label, _ in table])
    weights = np.array([weight for _, weight in table], dtype=float)
    return labels[rng.choice(len(labels), size=n, p=weights / weights.sum())]


def _pick_by_group(
    rng: np.random.Generator, groups: np.ndarray, tables: dict[str, Table]
) -> np.ndarray:
    """Draw one label per row from the table named by the row's group."""
    out = np.empty(len(groups), dtype=object)
    for group in sorted(set(groups.tolist())):
        rows = groups == group
        out[rows] = _pick(rng, tables[group], int(rows.sum()))
    return out


def _logistic(score: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-score))


def _board_students(rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """One row per student who started grade 9 at one of the two boards."""
    frames = []
    for board, size in BOARD_COHORT_SIZES.items():
        per_cohort = round(size * scale)
        n = per_cohort * len(COHORTS)
        shares = tuple(enumerate(QUINTILE_SHARES[board], start=1))
        frames.append(
            pd.DataFrame(
                {
                    "board": board,
                    "grade9_year": np.repeat(COHORTS, per_cohort),
                    "gender": _pick(rng, GENDERS, n),
                    "age": _pick(rng, AGE_AT_GRADE9, n),
                    "quintile": _pick(rng, shares, n),
                }
            )
        )
    students = pd.concat(frames, ignore_index=True)
    n = len(students)
    quintile = students["quintile"].to_numpy()

    # Readiness rises with income and falls with special education; with some
    # noise it sets the math stream and the credits by the end of grade 10.
    special_ed = rng.random(n) < SPECIAL_ED_RATE * (1.15 - 0.05 * quintile)
    readiness = rng.normal(size=n) + 0.25 * (quintile - 3) - 0.7 * special_ed
    placement = readiness + rng.normal(scale=0.6, size=n)
    stream = np.select(
        [placement < STREAM_CUTS[0], placement < STREAM_CUTS[1]],
        ["locally_developed", "applied"],
        "academic",
    )
    noise = rng.normal(scale=1.2, size=n)
    shortfall = np.minimum(0, np.round(2.5 * (readiness + 0.6) + noise))
    summer = np.where(rng.random(n) < 0.08, rng.integers(1, 3, size=n), 0)
    credits = np.clip(16 + shortfall + summer, 0, 24)

    # The diploma: likelier with readiness, income, credits and academic math.
    diploma_score = (
        2.7
        + 1.0 * readiness
        + 0.15 * (quintile - 3)
        - 0.3 * special_ed
        - np.select([stream == "applied", stream == "locally_developed"], [0.5, 1.0])
        + 0.25 * (credits - 16)
    )
    has_diploma = rng.random(n) < _logistic(diploma_score)
    diploma_year = students["grade9_year"] + _pick(rng, DIPLOMA_DELAYS, n)

    return students.assign(
        birth_year=students["grade9_year"] - students.pop("age"),
        special_ed=special_ed,
        readiness=readiness,
        stream=stream,
        credits_g10=credits,
        ossd_year=np.where(has_diploma, diploma_year, np.nan),
        mover=rng.random(n) < MOVER_RATE,
        moved_early=rng.random(n) < MOVED_BEFORE_GRADE10,
    )


def _board_starts(rng: np.random.Generator, students: pd.DataFrame) -> pd.DataFrame:
    """Where and when each board student who goes on starts postsecondary study."""
    n = len(students)
    readiness = students["readiness"].to_numpy()
    quintile = students["quintile"].to_numpy()
    stream = students["stream"].to_numpy()
    credits = students["credits_g10"].to_numpy()
    diploma_year = students["ossd_year"].to_numpy()
    has_diploma = ~np.isnan(diploma_year)

    # University draws mostly on the academic stream; college is more mixed.
    university_score = (
        -0.5
        + 1.2 * readiness
        + 0.3 * (quintile - 3)
        - 0.4 * students["special_ed"].to_numpy()
        - np.select([stream == "applied", stream == "locally_developed"], [2.8, 5.0])
        + 0.15 * (credits - 16)
    )
    college_score = (
        0.1 + 0.05 * (quintile - 3) + 0.2 * (credits - 16) + 0.3 * (stream == "applied")
    )
    university = has_diploma & (rng.random(n) < _logistic(university_score))
    college = has_diploma & ~university & (rng.random(n) < _logistic(college_score))
    mature = ~has_diploma & (rng.random(n) < MATURE_COLLEGE_RATE)

    # Direct entry in the diploma year, or a few years later; mature students
    # come at least six years after grade 9.
    entry = diploma_year + _pick(rng, ENTRY_DELAYS, n)
    later = students["grade9_year"].to_numpy() + 5 + rng.geometric(0.4, size=n)
    also = rng.random(n)
    starts = pd.DataFrame(
        {
            "person": np.arange(n),
            "institution": np.where(university, "university", "college"),
            "entry_year": np.where(mature, later, entry),
            "readiness": readiness,
            "kind": np.where(mature, "mature", "school"),
            "also_other": np.where(
                university,
                also < UNIVERSITY_THEN_COLLEGE,
                also < COLLEGE_THEN_UNIVERSITY,
            ),
        }
    )
    return starts[university | college | mature]


def _other_starts(
    rng: np.random.Generator, board_rows: pd.DataFrame, *, first_person: int
) -> pd.DataFrame:
    """Starts of the students who did not come from the two boards.

    Their number makes board students about :data:`BOARD_ORIGIN_SHARE` of each
    institution's students; international students are among them.
    """
    frames = []
    for institution in INSTITUTIONS:
        from_boards = board_rows.loc[board_rows["institution"] == institution, "person"]
        total = from_boards.nunique() / BOARD_ORIGIN_SHARE
        n_international = round(INTERNATIONAL_SHARE[institution] * total)
        n_domestic = max(0, round(total) - from_boards.nunique() - n_international)
        kind = np.concatenate(
            [
                np.full(n_international, "international"),
                _pick(rng, OTHER_KINDS, n_domestic),
            ]
        )
        n = len(kind)
        frames.append(
            pd.DataFrame(
                {
                    "institution": institution,
                    "entry_year": _pick(rng, ENTRY_YEAR_WEIGHTS, n),
                    "readiness": rng.normal(size=n) + 0.3 * (kind == "international"),
                    "kind": kind,
                    "also_other": (kind != "international")
                    & (rng.random(n) < OTHERS_AT_BOTH),
                }
            )
        )
    others = pd.concat(frames, ignore_index=True)
    return others.assign(person=first_person + np.arange(len(others)))


def _careers(rng: np.random.Generator, starts: pd.DataFrame) -> pd.DataFrame:
    """Programs at the first institution, then at the other one for some."""
    first, ends = _programs(rng, starts)
    again = starts[starts["also_other"].to_numpy()].set_index("person")
    again = again.join(ends.rename("end"), how="inner").dropna(subset=["end"])
    if again.empty:
        return first
    second = pd.DataFrame(
        {
            "person": again.index,
            "institution": np.where(
                again["institution"] == "college", "university", "college"
            ),
            "entry_year": again["end"].to_numpy() + _pick(rng, GAP_YEARS, len(again)),
            "readiness": again["readiness"].to_numpy(),
            "kind": "after_other",
        }
    )
    later, _ = _programs(rng, second)
    return pd.concat([first, later])


def _programs(
    rng: np.random.Generator, starts: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """Simulate up to :data:`MAX_PROGRAMS` programs in a row per person.

    Returns one row per observed enrolment, and per person the year the last
    observed program ended (NaN while it is still under way).
    """
    institution = starts["institution"].to_numpy().astype(str)
    current = pd.DataFrame(
        {
            "person": starts["person"].to_numpy(),
            "institution": institution,
            "entry_year": starts["entry_year"].to_numpy().astype(float),
            "credential_type": _pick_by_group(
                rng,
                np.char.add(institution + "/", starts["kind"].to_numpy().astype(str)),
                FIRST_CREDENTIALS,
            ),
            "field": _pick_by_group(rng, institution, FIELD_SHARES),
            "readiness": starts["readiness"].to_numpy(),
        }
    )
    ends = pd.Series(np.nan, index=current["person"])
    rows = []
    for _ in range(MAX_PROGRAMS):
        current = current[current["entry_year"] <= OBSERVED_UNTIL]
        if current.empty:
            break
        n = len(current)
        where = current["institution"].to_numpy()
        credential = current["credential_type"].to_numpy()
        entry = current["entry_year"].to_numpy()

        # Graduates finish after the program's length plus a little; leavers go
        # within it. A program that ends after the extract is still under way.
        years = _program_years(where, credential)
        base = np.where(
            where == "college",
            GRADUATION_LOGIT["college"],
            GRADUATION_LOGIT["university"],
        )
        graduates = rng.random(n) < _logistic(base + 0.9 * current["readiness"])
        finish = entry + years + _pick(rng, EXTRA_YEARS, n)
        end = np.where(graduates, finish, entry + rng.integers(0, years))
        ongoing = end > OBSERVED_UNTIL
        outcome = np.where(
            ongoing, "enrolled", np.where(graduates, "graduated", "left")
        )
        rows.append(
            current.drop(columns="readiness").assign(
                outcome=outcome,
                credential_year=np.where(outcome == "graduated", finish, np.nan),
            )
        )
        ends[current["person"].to_numpy()] = np.where(ongoing, np.nan, end)

        # Some graduates take a follow-up program and some leavers switch.
        chance = rng.random(n)
        rate = np.where(
            where == "college", FOLLOW_UP_RATE["college"], FOLLOW_UP_RATE["university"]
        )
        go_on = ~ongoing & np.where(graduates, chance < rate, chance < SWITCH_RATE)
        follow_key = np.char.add(
            where + "/",
            np.where(
                (where == "university") & np.isin(credential, ["bachelor", "master"]),
                credential,
                "any",
            ),
        )
        switch_key = np.char.add(where + "/", "school")
        next_credential = np.where(
            graduates,
            _pick_by_group(rng, follow_key, FOLLOW_UPS),
            _pick_by_group(rng, switch_key, FIRST_CREDENTIALS),
        )
        new_field = _pick_by_group(rng, where, FIELD_SHARES)
        keep = rng.random(n) < KEEP_FIELD
        current = current.assign(
            entry_year=end + _pick(rng, GAP_YEARS, n),
            credential_type=next_credential,
            field=np.where(keep, current["field"], new_field),
        )[go_on]

    enrolments = pd.concat(rows) if rows else current.drop(columns="readiness")
    return enrolments, ends


def _program_years(institution: np.ndarray, credential: np.ndarray) -> np.ndarray:
    """Return the nominal length in years of each program."""
    lengths = {
        f"{where}/{name}": years
        for where, table in PROGRAM_YEARS.items()
        for name, years in table.items()
    }
    keys = pd.Series(np.char.add(institution.astype(str) + "/", credential.astype(str)))
    return keys.map(lengths).to_numpy(dtype=np.int64)


def _board_records(
    rng: np.random.Generator, students: pd.DataFrame, board: str
) -> pd.DataFrame:
    """One board's file: its own students, and students who moved in from the other.

    A mover's record at the board left has no diploma year (and no grade-10
    credits if the move came early); the record at the new board has them, and
    perhaps another income quintile.
    """
    home = students[students["board"] == board]
    incoming = students[(students["board"] != board) & students["mover"]]
    leaving = home["mover"].to_numpy()
    early = leaving & home["moved_early"].to_numpy()
    new_quintile = rng.random(len(incoming)) < NEW_QUINTILE_AFTER_MOVE
    shares = tuple(enumerate(QUINTILE_SHARES[board], start=1))
    incoming = incoming.assign(
        quintile=np.where(
            new_quintile, _pick(rng, shares, len(incoming)), incoming["quintile"]
        )
    )
    home = home.assign(
        ossd_year=np.where(leaving, np.nan, home["ossd_year"]),
        credits_g10=np.where(early, np.nan, home["credits_g10"]),
    )

    records = pd.concat([home, incoming])
    n = len(records)
    quintile = records["quintile"].to_numpy().astype(float)
    credits = records["credits_g10"].to_numpy()
    return pd.DataFrame(
        {
            "person": records.index.to_numpy(),
            "gender": records["gender"].to_numpy(),
            "birth_year": records["birth_year"].to_numpy(),
            "grade9_year": records["grade9_year"].to_numpy(),
            "income_quintile": np.where(
                rng.random(n) < QUINTILE_NULL_RATE, np.nan, quintile
            ),
            "math_stream": records["stream"].to_numpy(),
            "special_ed": records["special_ed"].to_numpy(),
            "credits_g10": np.where(rng.random(n) < CREDITS_NULL_RATE, np.nan, credits),
            "ossd_year": records["ossd_year"].to_numpy(),
        }
    )


def _planted_oens(
    rng: np.random.Generator, keys: np.ndarray, partner: str
) -> tuple[np.ndarray, np.ndarray]:
    """Write each row's OEN as text, spoiling a few on purpose.

    Returns the text (None where the student has no OEN) and a mask of the rows
    whose OEN was left intact.
    """
    has_oen = keys >= 0
    text = np.full(len(keys), None, dtype=object)
    text[has_oen] = format_oen_keys(keys[has_oen])
    clean = has_oen.copy()

    # Spoil a few: half get a wrong check digit, half lose it (eight digits).
    candidates = np.flatnonzero(has_oen)
    n_bad = min(len(candidates), max(2, round(MALFORMED_OEN_RATE * len(candidates))))
    bad = rng.choice(candidates, size=n_bad, replace=False)
    wrong, short = bad[: (n_bad + 1) // 2], bad[(n_bad + 1) // 2 :]
    shift = rng.integers(1, 10, size=len(wrong))
    spoiled = keys[wrong] // 10 * 10 + (keys[wrong] % 10 + shift) % 10
    text[wrong] = format_oen_keys(spoiled)
    text[short] = np.char.zfill((keys[short] // 10).astype("U8"), 8)
    clean[bad] = False

    # The college writes some OENs with dashes; they are still valid.
    if partner == "college":
        intact = np.flatnonzero(clean)
        n_dashed = min(len(intact), max(1, round(DASHED_OEN_RATE * len(intact))))
        for row in rng.choice(intact, size=n_dashed, replace=False):
            digits = text[row]
            text[row] = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return text, clean


def _planted_duplicates(
    rng: np.random.Generator, table: pd.DataFrame, clean: np.ndarray, partner: str
) -> pd.DataFrame:
    """Add exact and conflicting duplicate rows to a board's file.

    A conflicting copy claims grade 9 one year later and no diploma, as a stale
    second registration would; the loader keeps the earlier row.
    """
    if partner not in BOARD_COHORT_SIZES:
        return table
    eligible = np.flatnonzero(clean & (table["grade9_year"] < COHORTS[-1]).to_numpy())
    n_exact = max(1, round(EXACT_DUPLICATE_RATE * len(table)))
    n_conflicting = max(1, round(CONFLICTING_DUPLICATE_RATE * len(table)))
    if len(eligible) < n_exact + n_conflicting:
        return table
    chosen = rng.choice(eligible, size=n_exact + n_conflicting, replace=False)
    conflicting = table.iloc[chosen[:n_conflicting]]
    conflicting = conflicting.assign(
        grade9_year=conflicting["grade9_year"] + 1, ossd_year=np.nan
    )
    return pd.concat([table, table.iloc[chosen[n_conflicting:]], conflicting])


def _write_table(table: pd.DataFrame, schema: Schema, path: Path, fmt: str) -> None:
    """Write a partner's rows, id column first, then the declared columns."""
    oens = pa.array(table["oen"].to_numpy(), type=pa.string(), from_pandas=True)
    arrays = {schema.id_column: oens}
    for name, column in schema.columns.items():
        values = table[name].to_numpy()
        if column.kind == "integer":
            numbers = values.astype(float)
            missing = np.isnan(numbers)
            whole = np.where(missing, 0, numbers).astype(np.int32)
            arrays[name] = pa.array(whole, mask=missing)
        elif column.kind == "boolean":
            arrays[name] = pa.array(values.astype(bool))
        else:
            arrays[name] = pa.array(values.astype(str), type=pa.string())
    arrow = pa.table(arrays)
    if fmt == "parquet":
        pq.write_table(arrow, path)
        return
    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
    pacsv.write_csv(arrow, path, options)


def _data_dictionary(
    schemas: dict[str, Schema],
    paths: dict[str, Path],
    counts: dict[str, int],
    *,
    seed: int,
    scale: float,
) -> str:
    """Describe every file and column, the model and the planted quirks."""
    lines = [
        "# Synthetic partner data: data dictionary",
        "",
        f"Written by `parties.synth.write_synthetic_data` with seed {seed} and scale "
        f"{scale:g}. Every value is invented: no real student is described. The "
        f"extracts are as of {OBSERVED_UNTIL}; nothing later is observed.",
        "",
        "## Files",
        "",
        "| File | Schema | Rows | One row per |",
        "| --- | --- | --- | --- |",
    ]
    for partner, path in paths.items():
        schema = schemas[PARTNER_SCHEMAS[partner]]
        unit = "student" if schema.records_per_student == "one" else "enrolment"
        lines.append(
            f"| `{path.name}` | `schemas/{schema.name}.toml` | {counts[partner]:,} "
            f"| {unit} |"
        )
    lines += [
        "",
        "## The OEN",
        "",
        "Every file identifies students by `oen`, the Ontario Education Number: nine "
        "digits, leading zeros kept. The Ministry does not publish its check-digit "
        "algorithm, so these files ASSUME that the ninth digit is a Luhn (mod 10) "
        "check digit over the first eight, as `parties/oen.py` does. A student has "
        "the same OEN in every file; international students have none (the field "
        "is empty). The OEN is the only link between files.",
    ]
    for schema in schemas.values():
        files = ", ".join(
            f"`{path.name}`"
            for partner, path in paths.items()
            if PARTNER_SCHEMAS[partner] == schema.name
        )
        lines += [
            "",
            f"## Schema `{schema.name}`: {files}",
            "",
            f"{schema.description} Records per student: "
            f"{schema.records_per_student}; order of records: "
            f"{', '.join(schema.record_order)}.",
            "",
            "| Column | Type | Domain | Nullable | Meaning |",
            "| --- | --- | --- | --- | --- |",
            f"| `{schema.id_column}` | id | nine digits, Luhn check digit | "
            f"{'yes' if schema.records_per_student == 'many' else 'no'} "
            "| Ontario Education Number. |",
        ]
        for column in schema.columns.values():
            if column.kind == "integer":
                domain = f"{column.minimum}..{column.maximum}"
            elif column.kind == "boolean":
                domain = "true, false"
            else:
                domain = ", ".join(column.values)
            nullable = "yes" if column.nullable else "no"
            lines.append(
                f"| `{column.name}` | {column.kind} | {domain} | {nullable} "
                f"| {column.label} |"
            )

    per_cohort = ", ".join(
        f"{board} {round(size * scale):,}" for board, size in BOARD_COHORT_SIZES.items()
    )
    lines += [
        "",
        "## How the data were generated",
        "",
        f"- Boards: each grade-9 cohort {COHORTS[0]}-{COHORTS[-1]} has {per_cohort} "
        "students. Gender is F or M, X for about 1%. Most students start grade 9 "
        "the year they turn 14, some at 13 or 15.",
        "- A latent readiness score rises with the neighbourhood income quintile "
        "and falls with special education "
        f"(about {SPECIAL_ED_RATE:.0%}, more often in low quintiles). It sets the "
        "math stream (academic most often, then applied, then locally developed) "
        "and the credits by the end of grade 10 (16 for most, fewer for students "
        "who fall behind, a little more after summer school).",
        "- The chance of a diploma rises with readiness, quintile and credits and "
        "is lower in applied and locally developed math and with special "
        "education. The diploma comes 4 years after grade 9 for most, 5 or 6 for "
        "some.",
        "- University entry rises steeply with readiness and income and is rare "
        "outside the academic stream; college entry is more even across incomes "
        "and streams. Only diploma holders enter directly; about "
        f"{ENTRY_DELAYS[0][1]:.0%} enter in the diploma year, the others 1-5 years "
        f"later. About {UNIVERSITY_THEN_COLLEGE:.0%} of university students and "
        f"{COLLEGE_THEN_UNIVERSITY:.0%} of college students later study at the "
        f"other kind of institution; {MATURE_COLLEGE_RATE:.0%} of students without "
        "a diploma enter college at least six years after grade 9.",
        "- A student follows one to three programs in a row. Graduation is likelier "
        "with readiness; graduates finish after the program's nominal length "
        "(college certificate 1 year, diploma 2, advanced diploma 3, bachelor 4; "
        "university master 2, doctorate 5) or a year or two more, and leavers go "
        "within it. A program that would end after the extract is `enrolled`. "
        "Some graduates start a follow-up program (a graduate certificate, a "
        "master) and some leavers switch program.",
        f"- Board students are about {BOARD_ORIGIN_SHARE:.0%} of each "
        "institution's students. The others come from other boards or as mature "
        "students (valid OENs unknown to the boards) or are international "
        f"students without an OEN: about {INTERNATIONAL_SHARE['college']:.0%} of "
        f"the college's and {INTERNATIONAL_SHARE['university']:.0%} of the "
        "university's students.",
        f"- Movers: about {MOVER_RATE:.0%} of each board's students also appear "
        "at the other board with the same OEN, gender, birth year and grade-9 "
        "year. The record at the board they left has no diploma year (and no "
        "grade-10 credits if they left before the end of grade 10); the record at "
        "the board they moved to may have one. The income quintile may differ.",
        f"- Missing values: income quintile about {QUINTILE_NULL_RATE:.0%}, "
        f"grade-10 credits about {CREDITS_NULL_RATE:.0%}.",
        "",
        "## Planted data-quality quirks",
        "",
        f"- Malformed OENs in every file, about {MALFORMED_OEN_RATE:.2%} of rows "
        "(at least two): half have a wrong check digit, half only eight digits. "
        "`parties.data.load_partner_data` leaves these rows out and reports them.",
        f"- Boards: about {EXACT_DUPLICATE_RATE:.1%} of rows appear twice exactly, "
        f"and about {CONFLICTING_DUPLICATE_RATE:.2%} have a conflicting copy "
        "(grade 9 one year later, no diploma year); the loader keeps the row with "
        "the earlier grade-9 year.",
        f"- College: about {DASHED_OEN_RATE:.0%} of OENs are written with dashes "
        "(123-456-789); they are valid.",
        "- Rows appear in random order.",
        "",
    ]
    return "\n".join(lines)
