"""Loading one partner's own record file and checking it against its schema.

A partner's node reads its file once at start-up. :func:`load_partner_data` reads a
CSV or Parquet file, keeps the declared columns, types every value, checks it
against the declared domain, turns the id column into an integer key and, for
partners with one record per student, merges rows that share an OEN.

Problems are reported together in one :class:`~parties.errors.DataError` that names
the file, the data rows (counted from 1, after the header) and the column, quotes
the bad value when it is not an identifier, and says what to do. Nothing here ever
quotes a value of the id column, in an error, a note or a log line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from parties.errors import ConfigError, DataError
from parties.oen import (
    OEN_BAD_CHECK,
    OEN_MALFORMED,
    OEN_MISSING,
    OEN_STATUS_NAMES,
    OEN_VALID,
    parse_oen_column,
)
from parties.schema import Column, Schema, record_sort_keys

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")

# Text that stands for "no value", compared after stripping whitespace. A declared
# category value wins over this list, so a category may still be called "None".
NULL_TOKENS = frozenset({"", "NA", "N/A", "NULL", "null", "None", "NaN"})

# Text an integer column accepts: digits with an optional sign and decimal part,
# so "2015" and "2015.0" pass and the decimal part is checked to be zero later.
_NUMBER_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?")

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})

# How many problems one error lists before it only counts the rest.
MAX_LISTED_PROBLEMS = 20

ON_INVALID_ID = ("exclude", "error")
_EXCLUDED_CODES = (OEN_MISSING, OEN_MALFORMED, OEN_BAD_CHECK)
EXCLUSION_REASONS = tuple(OEN_STATUS_NAMES[code] for code in _EXCLUDED_CODES)

# Name of the column that holds the OEN as a number in a loaded frame.
KEY_COLUMN = "_key"

_ID_PROBLEMS = {
    OEN_MISSING: "the id is missing",
    OEN_MALFORMED: "the id is not nine digits",
    OEN_BAD_CHECK: "the id fails its check digit",
}


@dataclass
class LoadReport:
    """What loading one file did: counts, excluded rows and notes, no identifiers.

    ``excluded`` maps each reason ("missing id", "malformed id", "bad check
    digit") to the 1-based data row numbers left out for it. ``duplicates_merged``
    counts exact duplicate rows dropped and ``duplicates_conflicting`` the rows
    dropped because another row with the same OEN but different content was kept.
    """

    path: str
    rows_read: int
    rows_kept: int
    excluded: dict[str, list[int]] = field(default_factory=dict)
    duplicates_merged: int = 0
    duplicates_conflicting: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class PartnerData:
    """A partner's checked records: ``_key`` (the OEN as int64), then each column.

    Category columns have pandas' ``string`` dtype, integer columns ``Int64`` and
    boolean columns ``boolean``; a null is ``pd.NA``.
    """

    schema: Schema
    frame: pd.DataFrame
    report: LoadReport


@dataclass(frozen=True)
class _Problem:
    row: int
    column_position: int
    text: str


def load_partner_data(
    path: str | Path, schema: Schema, *, on_invalid_id: str = "exclude"
) -> PartnerData:
    """Read a partner's CSV or Parquet file and check it against ``schema``.

    Rows whose id is missing, malformed or fails its check digit are left out and
    listed in the report when ``on_invalid_id`` is ``"exclude"``; with ``"error"``
    they make the load fail. Any other problem always makes it fail.
    """
    if on_invalid_id not in ON_INVALID_ID:
        raise ConfigError(
            f"on_invalid_id = {on_invalid_id!r} is not supported; use 'exclude' or "
            "'error'."
        )
    if KEY_COLUMN in schema.columns:
        raise ConfigError(
            f"Schema {schema.name!r} declares a column named {KEY_COLUMN!r}, which "
            "the loader keeps for the OEN key; rename that column."
        )
    path = Path(path)
    name = path.name
    notes: list[str] = []

    # Read the id and declared columns; CSV cells stay text, so zeros survive.
    raw, extra = _read_file(path, schema)
    rows_read = len(raw)
    if extra:
        notes.append(
            f"Ignored {len(extra)} column(s) not declared in schema "
            f"{schema.name!r}: {', '.join(extra)}."
        )

    # Classify every id; invalid ones are excluded or become problems.
    keys, status = parse_oen_column(
        raw[schema.id_column],
        check_digit=schema.id_check == "luhn",
        null_tokens=NULL_TOKENS,
    )
    valid = status == OEN_VALID
    problems: list[_Problem] = []
    problem_count = 0
    if on_invalid_id == "error":
        for code, text in _ID_PROBLEMS.items():
            found, count = _problems_at(status == code, -1, text)
            problems += found
            problem_count += count
        checked = np.ones(rows_read, dtype=bool)
    else:
        checked = valid

    # Type and check each declared column, on the rows that are kept.
    typed: dict[str, Any] = {}
    for position, column in enumerate(schema.columns.values()):
        values, bad_rows, messages = _convert_column(raw[column.name], column)
        for code, text in messages.items():
            found, count = _problems_at(
                (bad_rows == code) & checked,
                position,
                f"column {column.name!r}: {text}",
            )
            problems += found
            problem_count += count
        typed[column.name] = values
    if problems:
        raise DataError(_problem_message(name, schema, problems, problem_count))

    # Assemble the frame of kept rows, remembering each row's number.
    frame = pd.DataFrame({KEY_COLUMN: keys, **typed})
    frame.index = pd.RangeIndex(1, rows_read + 1)
    frame = frame[valid]
    excluded = {
        OEN_STATUS_NAMES[code]: (np.flatnonzero(status == code) + 1).tolist()
        for code in _EXCLUDED_CODES
    }
    dropped = sum(len(rows) for rows in excluded.values())
    if dropped:
        counts = ", ".join(
            f"{len(rows)} with a {reason}" for reason, rows in excluded.items() if rows
        )
        notes.append(f"Excluded {dropped} row(s) whose id is not usable: {counts}.")

    # Partners with one record per student keep one row per OEN.
    merged = conflicting = 0
    if schema.records_per_student == "one":
        frame, merged, conflicting, students = _merge_duplicates(frame, schema)
        if merged:
            notes.append(f"Dropped {merged} exact duplicate row(s).")
        if conflicting:
            order = ", ".join(schema.record_order) or "file order"
            notes.append(
                f"{students} student(s) had rows that disagree; kept the first by "
                f"{order} (then file order) and dropped {conflicting} row(s)."
            )

    frame = frame.reset_index(drop=True)
    report = LoadReport(
        path=str(path),
        rows_read=rows_read,
        rows_kept=len(frame),
        excluded=excluded,
        duplicates_merged=merged,
        duplicates_conflicting=conflicting,
        notes=notes,
    )
    return PartnerData(schema=schema, frame=frame, report=report)


def describe_report(report: LoadReport) -> str:
    """Summarise a load in a few log-friendly lines that hold no identifier."""
    lines = [
        f"{Path(report.path).name}: read {report.rows_read:,} row(s), "
        f"kept {report.rows_kept:,}."
    ]
    excluded = [f"{len(rows):,} {reason}" for reason, rows in report.excluded.items()]
    if any(report.excluded.values()):
        lines.append("  excluded: " + ", ".join(excluded) + ".")
    if report.duplicates_merged or report.duplicates_conflicting:
        lines.append(
            f"  duplicates: {report.duplicates_merged:,} exact row(s) dropped, "
            f"{report.duplicates_conflicting:,} conflicting row(s) dropped."
        )
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)


def _read_file(path: Path, schema: Schema) -> tuple[pd.DataFrame, list[str]]:
    """Return the id and declared columns of a file, and its undeclared columns."""
    if not path.is_file():
        raise DataError(f"Data file {str(path)!r} does not exist; check the path.")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        header = _csv_header(path)
    elif suffix in PARQUET_SUFFIXES:
        try:
            header = list(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:
            raise DataError(
                f"Data file {path.name!r} is not a readable Parquet file ({exc}); "
                "export it again."
            ) from exc
    else:
        raise DataError(
            f"Data file {path.name!r} has suffix {path.suffix!r}; use .csv, .parquet "
            "or .pq."
        )

    # Every declared column, and the id column, must be there exactly once.
    wanted = [schema.id_column, *schema.columns]
    repeated = sorted({name for name in header if header.count(name) > 1} & set(wanted))
    if repeated:
        raise DataError(
            f"Data file {path.name!r} has more than one column named "
            f"{', '.join(map(repr, repeated))}; keep one and rename the others."
        )
    missing = [name for name in wanted if name not in header]
    if missing:
        raise DataError(
            f"Data file {path.name!r} lacks the column(s) "
            f"{', '.join(map(repr, missing))} declared in schema {schema.name!r}; "
            f"its columns are {', '.join(map(repr, header)) or '(none)'}. Add or "
            "rename the columns, or correct the schema."
        )
    extra = [name for name in header if name not in wanted]

    if suffix in PARQUET_SUFFIXES:
        try:
            return pd.read_parquet(path, columns=wanted), extra
        except (OSError, ValueError) as exc:
            raise DataError(
                f"Data file {path.name!r} could not be read as Parquet ({exc}); "
                "export it again."
            ) from exc
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"Data file {path.name!r} is not a well-formed UTF-8 CSV file ({exc}); "
            "export it again as UTF-8 CSV with a header row."
        ) from exc
    frame.columns = [name.strip() for name in frame.columns]
    return frame[wanted], extra


def _csv_header(path: Path) -> list[str]:
    """Read the header row of a CSV file, column names stripped of whitespace."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Data file {path.name!r} is not UTF-8 text ({exc}); export it again as "
            "UTF-8 CSV."
        ) from exc
    if not header:
        raise DataError(
            f"Data file {path.name!r} is empty; it needs a header row naming the "
            "columns."
        )
    return [name.strip() for name in header]


def _convert_column(
    series: pd.Series, column: Column
) -> tuple[Any, np.ndarray, dict[int, str]]:
    """Type one column and find its bad cells.

    Returns the typed values, one problem code per row (-1 where the value is
    fine) and the message of each code. The work is done once per distinct stored
    value, so a million rows with a few dozen distinct values cost little.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    parse = _PARSERS[column.kind]
    by_text: dict[str, int] = {}

    # Parse each distinct value: a typed value, None for null, or a problem.
    parsed: list[Any] = []
    unique_problem = np.full(len(uniques) + 1, -1, dtype=np.int64)
    for index, stored in enumerate(uniques):
        value, problem = _parse_value(stored, column, parse)
        if problem is not None:
            unique_problem[index] = by_text.setdefault(problem, len(by_text))
            value = None
        parsed.append(value)
    parsed.append(None)

    # Spread the parsed values back over the rows; slot -1 is the stored null.
    nulls = np.array([value is None for value in parsed], dtype=bool)
    is_null = nulls[codes]
    bad_rows = unique_problem[codes]
    if not column.nullable:
        empty_code = len(by_text)
        by_text["the value is empty but the column is not nullable"] = empty_code
        bad_rows[is_null & (bad_rows < 0)] = empty_code
    messages = {code: text for text, code in by_text.items()}

    if column.kind == "category":
        table = np.array(parsed, dtype=object)
        values = pd.array(table[codes], dtype="string")
    elif column.kind == "integer":
        table = np.array([0 if v is None else v for v in parsed], dtype=np.int64)
        values = pd.arrays.IntegerArray(table[codes], is_null)
    else:
        table = np.array([bool(v) for v in parsed], dtype=bool)
        values = pd.arrays.BooleanArray(table[codes], is_null)
    return values, bad_rows, messages


def _parse_value(
    stored: Any, column: Column, parse: Callable[[Any, Column], Any]
) -> tuple[Any, str | None]:
    """Return ``(value, problem)`` for one distinct stored value."""
    if isinstance(stored, str):
        stored = stored.strip()
        if stored in NULL_TOKENS and stored not in column.values:
            return None, None
    elif stored is None or (isinstance(stored, float) and np.isnan(stored)):
        return None, None
    try:
        return parse(stored, column), None
    except _BadValue as exc:
        return None, str(exc)


class _BadValue(Exception):
    """A stored value does not fit its column; the message describes it."""


def _parse_category(stored: Any, column: Column) -> str:
    text = str(stored)
    if text in column.values:
        return text
    folded = [value for value in column.values if value.casefold() == text.casefold()]
    if len(folded) == 1:
        return folded[0]
    if folded:
        raise _BadValue(
            f"value {_quote(text)} matches several declared values when case is "
            "ignored; write it exactly as declared"
        )
    raise _BadValue(
        f"value {_quote(text)} is not one of the declared values "
        f"({_list_values(column.values)})"
    )


def _parse_integer(stored: Any, column: Column) -> int:
    if isinstance(stored, bool | np.bool_):
        raise _BadValue(f"value {_quote(stored)} is a boolean, not a whole number")
    if isinstance(stored, str) and not _NUMBER_TEXT.fullmatch(stored):
        raise _BadValue(f"value {_quote(stored)} is not a whole number")
    try:
        number = float(stored)
    except (TypeError, ValueError):
        raise _BadValue(f"value {_quote(stored)} is not a whole number") from None
    if not np.isfinite(number) or number != int(number):
        raise _BadValue(f"value {_quote(stored)} is not a whole number")
    whole = int(number)
    if not column.minimum <= whole <= column.maximum:  # type: ignore[operator]
        raise _BadValue(
            f"value {_quote(stored)} is outside the declared range "
            f"{column.minimum}..{column.maximum}"
        )
    return whole


def _parse_boolean(stored: Any, column: Column) -> bool:
    if isinstance(stored, bool | np.bool_):
        return bool(stored)
    if isinstance(stored, int | np.integer) and stored in (0, 1):
        return bool(stored)
    word = str(stored).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _BadValue(
        f"value {_quote(stored)} is not a boolean; use true/false, yes/no or 1/0"
    )


_PARSERS: dict[str, Callable[[Any, Column], Any]] = {
    "category": _parse_category,
    "integer": _parse_integer,
    "boolean": _parse_boolean,
}


def _problems_at(
    mask: np.ndarray, column_position: int, text: str
) -> tuple[list[_Problem], int]:
    """Return the first listed problems of one kind and how many there are."""
    rows = np.flatnonzero(mask)
    listed = [
        _Problem(int(row) + 1, column_position, text)
        for row in rows[:MAX_LISTED_PROBLEMS]
    ]
    return listed, len(rows)


def _problem_message(
    name: str, schema: Schema, problems: list[_Problem], count: int
) -> str:
    """Write one error message that lists the first problems in row order."""
    problems = sorted(problems, key=lambda p: (p.row, p.column_position))
    listed = problems[:MAX_LISTED_PROBLEMS]
    lines = [
        f"Data file {name!r} does not match schema {schema.name!r}: "
        f"{count} problem(s) found."
    ]
    lines += [f"  data row {p.row}, {_describe_problem(p, schema)}." for p in listed]
    if count > len(listed):
        lines.append(f"  ... and {count - len(listed)} more.")
    advice = (
        "Correct these rows in the file (data rows are counted from 1 after the "
        "header), or correct the schema if the values are legitimate."
    )
    if any(p.column_position < 0 for p in problems):
        advice += " Rows with an unusable id may instead be left out with "
        advice += "on_invalid_id='exclude'."
    lines.append(advice)
    return "\n".join(lines)


def _describe_problem(problem: _Problem, schema: Schema) -> str:
    if problem.column_position < 0:
        return f"id column {schema.id_column!r}: {problem.text}"
    return problem.text


def _merge_duplicates(
    frame: pd.DataFrame, schema: Schema
) -> tuple[pd.DataFrame, int, int, int]:
    """Keep one row per OEN: drop exact copies, then keep the first by order.

    Returns the frame, the exact copies dropped, the conflicting rows dropped and
    the number of students whose rows disagreed.
    """
    shared = frame[KEY_COLUMN].duplicated(keep=False).to_numpy()
    if not shared.any():
        return frame, 0, 0, 0
    candidates = frame[shared]

    # Exact copies (same key and same content) go first, silently.
    copies = candidates.duplicated(keep="first")
    merged = int(copies.sum())
    candidates = candidates[~copies]

    # What is left and still shares a key disagrees: keep the first row by the
    # declared order (nulls last); the stable sort keeps file order among ties.
    ranked = candidates
    keys = record_sort_keys(candidates, schema)
    if keys:
        helper = pd.DataFrame({f"_k{i}": key for i, key in enumerate(keys)})
        ranked = candidates.loc[
            helper.sort_values(
                list(helper.columns), na_position="last", kind="stable"
            ).index
        ]
    first = ranked.drop_duplicates(KEY_COLUMN, keep="first")
    conflicting = len(candidates) - len(first)
    students = int(
        candidates.loc[candidates[KEY_COLUMN].duplicated(), KEY_COLUMN].nunique()
    )

    kept = pd.concat([frame[~shared], first]).sort_index()
    return kept, merged, conflicting, students


def _quote(value: Any) -> str:
    """Quote a non-identifier value for a message, shortened if it is long."""
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def _list_values(values: tuple[str, ...]) -> str:
    shown = ", ".join(values[:12])
    return shown + (f", ... ({len(values)} in all)" if len(values) > 12 else "")
