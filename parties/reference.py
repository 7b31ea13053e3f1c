"""Plaintext reference answers for table requests, computed with pandas.

The tests and the benchmark compare every MPC result with this module, so it is
written directly from the definitions of a request and shares no logic with the
MPC compiler. It only reads the :class:`~parties.request.Request` model and the
partners' loaded frames (column ``_key`` holds the student number, then one typed
column per declared column).

The definitions, in the order the code follows them:

1. A population partner's records are its rows that pass ``population.where``.
   A partner with several records per student keeps, for each student, one
   representative record: the first by the schema's ``record_order`` (ascending,
   nulls last), ties broken by file order.
2. The population is every student with such a record, counted once.
3. A population column takes the value of the first population partner, in the
   order of ``population.partners``, whose record for the student has it set.
4. A student's records at a partner are all its rows for that student; at a
   population partner only the rows that pass the population filter.
5. A dimension on another partner's column reads the student's representative
   record there; the "absent" level holds students with no record at all, the
   "missing" level those whose value is null.
6. ``exists(Q, cond)`` holds when at least one of the student's records at ``Q``
   satisfies ``cond``; inside it, population columns read the student's value.
7. Every comparison that involves a null is false; the rest is two-valued logic.

Ordering a category column in ``record_order`` follows the order in which its
schema lists the values, which is the column's public domain order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mpc import suppression
from parties.errors import DataError
from parties.expressions import (
    And,
    ColumnRef,
    Const,
    Exists,
    Expr,
    InSet,
    IsNull,
    Not,
    Or,
    Relation,
)
from parties.request import Dimension, Request
from parties.schema import Schema
from parties.table import ReleasedTable

KEY = "_key"

# Position of a row in its partner's file; breaks ties between records.
_ROW = "_reference_row"


def reference_table(
    request: Request,
    frames: Mapping[str, pd.DataFrame],
    *,
    schemas: Mapping[str, Schema] | None = None,
) -> ReleasedTable:
    """Return the table exactly as it must be released, with disclosure applied.

    ``frames`` maps partner names to loaded frames and may hold partners that the
    request does not use. ``schemas`` gives each partner's declared schema; see
    :func:`reference_counts` for what happens without it. Noise and rounding are
    random and not applied here: with them, only the suppression pattern is
    comparable.
    """
    full = reference_full_counts(request, frames, schemas=schemas)
    codes = reference_rules(request, full)
    return ReleasedTable.from_codes(request, full, codes)


def reference_full_counts(
    request: Request,
    frames: Mapping[str, pd.DataFrame],
    *,
    schemas: Mapping[str, Schema] | None = None,
) -> np.ndarray:
    """Exact counts of every released cell: base cells, then totals, in the
    order of ``request.full_cells()``."""
    base = reference_counts(request, frames, schemas=schemas)
    return request.shape().margin_matrix() @ base


def reference_rules(request: Request, full: np.ndarray) -> np.ndarray:
    """Suppression rule codes for exact counts, by the same deterministic rules
    as the MPC: minimum cell size, complements of measures, then complementary
    suppression choosing the smallest released cell."""
    rules = request.disclosure
    minimum = rules.min_cell_size
    small = (full >= 1) & (full < minimum)
    codes = np.where(small, suppression.MIN_CELL_SIZE, suppression.RELEASED)
    if rules.protect_complements and not rules.noisy and full.shape[1] > 1:
        rest = full[:, :1] - full[:, 1:]
        complement = np.zeros_like(small)
        complement[:, 1:] = (rest >= 1) & (rest < minimum)
        codes = np.where(
            (codes == suppression.RELEASED) & complement, suppression.COMPLEMENT, codes
        )
    if rules.complementary:
        flat = full.reshape(-1)

        async def argmin(candidates):
            values = [int(flat[i]) for i in candidates]
            return int(candidates[values.index(min(values))])

        codes = asyncio.run(
            suppression.complete(request.shape(), codes.reshape(-1), argmin)
        ).reshape(codes.shape)
    return codes


def reference_counts(
    request: Request,
    frames: Mapping[str, pd.DataFrame],
    *,
    schemas: Mapping[str, Schema] | None = None,
) -> np.ndarray:
    """Return the exact counts before disclosure.

    The result is an int64 array with one row per cell of ``request.cells()`` and
    one column for the students, then one per measure.

    ``schemas`` is needed only to pick representative records. Without it, the
    population partners are taken to follow ``request.population.schema``, and a
    dimension on another partner's column works only if that partner holds at
    most one record per student.
    """
    # Rules 1 and 4: the rows each partner contributes.
    population_partners = request.population.partners
    records: dict[str, pd.DataFrame] = {}
    for partner in population_partners:
        rows = _rows_of(frames, partner)
        view = _RowView(rows, partner=partner, population=None)
        passes = (
            np.ones(len(rows), dtype=bool)
            if request.population.where is None
            else _holds(request.population.where, view)
        )
        records[partner] = rows[passes]

    # Rule 2: the population, one entry per student, sorted by key.
    keys = np.unique(
        np.concatenate(
            [records[p][KEY].to_numpy(dtype=np.int64) for p in population_partners]
        )
    )

    # Rule 3: population columns, coalesced over the partners' representatives.
    population = pd.DataFrame(index=pd.Index(keys, name=KEY))
    representatives = [
        _representative(
            records[p], _schema_of(request, schemas, p), partner=p
        ).set_index(KEY)
        for p in population_partners
    ]
    for column in request.population.schema.columns:
        values = _column(representatives[0], column, population_partners[0])
        values = values.reindex(keys)
        for partner, later in zip(
            population_partners[1:], representatives[1:], strict=True
        ):
            values = values.fillna(_column(later, column, partner).reindex(keys))
        population[column] = values

    # Rule 4 for the other partners: their rows for population students.
    for partner in request.partners_used():
        if partner not in records:
            rows = _rows_of(frames, partner)
            records[partner] = rows[rows[KEY].isin(keys).to_numpy()]

    # Rule 5: the cell of every student.
    cell = np.zeros(len(keys), dtype=np.int64)
    for dim in request.dimensions:
        codes = _level_codes(dim, keys, population, records, request, schemas)
        cell = cell * len(dim.levels) + codes
    cell_count = len(request.cells())

    # Rules 6 to 9: count the students, then each measure, per cell.
    students = _StudentView(keys, population, records)
    counts = np.zeros((cell_count, 1 + len(request.measures)), dtype=np.int64)
    counts[:, 0] = np.bincount(cell, minlength=cell_count)
    for j, measure in enumerate(request.measures, start=1):
        holds = _holds(measure.when, students)
        counts[:, j] = np.bincount(cell[holds], minlength=cell_count)
    return counts


def apply_min_cell_size(
    counts: np.ndarray, min_cell_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Suppress every count from 1 to ``min_cell_size - 1``.

    Returns ``(values, suppressed)``: a suppressed count is released as 0 with its
    flag set; a zero count is released as 0 and is not suppressed.
    """
    if isinstance(min_cell_size, bool) or not isinstance(min_cell_size, int):
        raise ValueError(
            f"min_cell_size = {min_cell_size!r} must be a whole number of at least 1."
        )
    if min_cell_size < 1:
        raise ValueError(
            f"min_cell_size = {min_cell_size} must be at least 1; use 1 to suppress "
            "nothing."
        )
    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 0).any():
        raise ValueError("Counts must not be negative; a count below 0 was passed.")

    suppressed = (counts >= 1) & (counts < min_cell_size)
    values = np.where(suppressed, 0, counts).astype(np.int64)
    return values, suppressed


# Reading the partners' frames


def _rows_of(frames: Mapping[str, pd.DataFrame], partner: str) -> pd.DataFrame:
    """Return a partner's frame with a fresh index and each row's file position."""
    frame = frames.get(partner)
    if frame is None:
        known = ", ".join(sorted(frames)) or "(none)"
        raise DataError(
            f"The request reads partner {partner!r}, but no frame was given for it; "
            f"frames were given for: {known}."
        )
    if KEY not in frame.columns:
        raise DataError(
            f"The frame of partner {partner!r} has no {KEY!r} column; load it with "
            "parties.data.load_partner_data."
        )
    rows = frame.reset_index(drop=True)
    rows[_ROW] = np.arange(len(rows), dtype=np.int64)
    return rows


def _column(rows: pd.DataFrame, name: str, partner: str) -> pd.Series:
    """Return one column of a partner's rows, or say clearly that it is missing."""
    if name not in rows.columns:
        raise DataError(
            f"The frame of partner {partner!r} has no column {name!r}, which the "
            "request reads; load the frame with the partner's declared schema."
        )
    return rows[name]


def _schema_of(
    request: Request, schemas: Mapping[str, Schema] | None, partner: str
) -> Schema | None:
    """Return a partner's schema, if it is known."""
    if schemas is not None and partner in schemas:
        return schemas[partner]
    if partner in request.population.partners:
        return request.population.schema
    return None


def _representative(
    rows: pd.DataFrame, schema: Schema | None, *, partner: str
) -> pd.DataFrame:
    """Keep one record per student: the first by record order, then file order."""
    if schema is None:
        if rows[KEY].duplicated().any():
            raise DataError(
                f"Partner {partner!r} holds several records for some students, so "
                "its schema's record_order is needed; pass schemas= to the "
                "reference."
            )
        return rows
    if not schema.record_order:
        return rows.drop_duplicates(KEY, keep="first")

    # Sort on the record order (categories in their declared order), then position.
    order = pd.DataFrame(index=rows.index)
    sort_by = []
    for i, name in enumerate(schema.record_order):
        column = schema.column(name)
        values = rows[name]
        if column.kind == "category":
            values = pd.Categorical(values, categories=column.values, ordered=True)
        order[f"order_{i}"] = values
        sort_by.append(f"order_{i}")
    order[_ROW] = rows[_ROW]
    ordered = order.sort_values([*sort_by, _ROW], na_position="last").index
    return rows.loc[ordered].drop_duplicates(KEY, keep="first")


# Dimensions


def _level_codes(
    dim: Dimension,
    keys: np.ndarray,
    population: pd.DataFrame,
    records: dict[str, pd.DataFrame],
    request: Request,
    schemas: Mapping[str, Schema] | None,
) -> np.ndarray:
    """Return, for each population student, the index of its level in ``dim``."""
    # The value each student has, and whether it has a record to take it from.
    partner = dim.ref.partner
    if dim.kind == "partner":
        # The first population partner, in listed order, with a record.
        first = pd.Series(pd.NA, index=pd.Index(keys), dtype="string")
        for name in reversed(request.population.partners):
            holders = np.isin(keys, records[name][KEY].to_numpy(dtype=np.int64))
            first[holders] = name
        values = first
        present = np.ones(len(keys), dtype=bool)
    elif partner is None:
        values = population[dim.ref.column]
        present = np.ones(len(keys), dtype=bool)
    else:
        schema = _schema_of(request, schemas, partner)
        chosen = _representative(records[partner], schema, partner=partner)
        values = _column(chosen.set_index(KEY), dim.ref.column, partner)
        values = values.reindex(keys)
        present = np.isin(keys, chosen[KEY].to_numpy(dtype=np.int64))
    is_null = values.isna().to_numpy(dtype=bool)

    # Mark each level's students; every student must land in exactly one level.
    codes = np.zeros(len(keys), dtype=np.int64)
    hits = np.zeros(len(keys), dtype=np.int64)
    for index, level in enumerate(dim.levels):
        if level.kind == "value":
            match = ~is_null & _as_bool(values.isin(list(level.values)))
        elif level.kind == "missing":
            match = present & is_null
        elif level.kind == "absent":
            match = ~present
        else:
            raise DataError(
                f"Dimension {dim.label!r} has a level of unknown kind "
                f"{level.kind!r}; expected 'value', 'missing' or 'absent'."
            )
        codes[match] = index
        hits += match

    unplaced = int((hits == 0).sum())
    doubled = int((hits > 1).sum())
    if unplaced or doubled:
        raise DataError(
            f"Dimension {dim.label!r} ({dim.ref}) places {unplaced} population "
            f"student(s) in no level and {doubled} in several; every student must "
            "fall in exactly one, so the data or the request's levels are wrong."
        )
    return codes


# Conditions


class _StudentView:
    """Reads a condition once per population student, in key order."""

    def __init__(
        self,
        keys: np.ndarray,
        population: pd.DataFrame,
        records: dict[str, pd.DataFrame],
    ) -> None:
        self.keys = keys
        self.population = population
        self.records = records
        self.size = len(keys)

    def column(self, ref: ColumnRef) -> pd.Series:
        if ref.partner is not None:
            raise DataError(
                f"Column {ref} is read outside exists({ref.partner}, ...); only "
                "population columns can be read there."
            )
        return self.population[ref.column]

    def exists(self, atom: Exists) -> np.ndarray:
        rows = self.records[atom.partner]
        if atom.cond is None:
            matching = rows
        else:
            view = _RowView(rows, partner=atom.partner, population=self.population)
            matching = rows[_holds(atom.cond, view)]
        return np.isin(self.keys, matching[KEY].to_numpy(dtype=np.int64))


class _RowView:
    """Reads a condition once per row of one partner.

    With ``population`` set (inside ``exists``), population columns read the
    value of the row's student; without it (the population filter), they read
    the row's own column.
    """

    def __init__(
        self, rows: pd.DataFrame, *, partner: str, population: pd.DataFrame | None
    ) -> None:
        self.rows = rows
        self.partner = partner
        self.population = population
        self.size = len(rows)

    def column(self, ref: ColumnRef) -> pd.Series:
        if ref.partner is None and self.population is not None:
            return self.population[ref.column].reindex(self.rows[KEY].to_numpy())
        if ref.partner is None or ref.partner == self.partner:
            return _column(self.rows, ref.column, self.partner)
        raise DataError(
            f"Column {ref} cannot be read on the rows of partner {self.partner!r}."
        )

    def exists(self, atom: Exists) -> np.ndarray:
        raise DataError(
            f"exists({atom.partner}, ...) cannot be nested inside another exists() "
            "or used in the population filter."
        )


def _holds(expr: Expr, view: _StudentView | _RowView) -> np.ndarray:
    """Return a boolean array: where ``expr`` is true in ``view``."""
    if isinstance(expr, Const):
        return np.full(view.size, expr.value, dtype=bool)
    if isinstance(expr, And):
        result = np.ones(view.size, dtype=bool)
        for item in expr.items:
            result &= _holds(item, view)
        return result
    if isinstance(expr, Or):
        result = np.zeros(view.size, dtype=bool)
        for item in expr.items:
            result |= _holds(item, view)
        return result
    if isinstance(expr, Not):
        return ~_holds(expr.item, view)
    if isinstance(expr, Exists):
        return view.exists(expr)

    if isinstance(expr, InSet):
        values = view.column(expr.ref)
        return _as_bool(values.notna()) & _as_bool(values.isin(list(expr.values)))
    if isinstance(expr, IsNull):
        is_null = _as_bool(view.column(expr.ref).isna())
        return ~is_null if expr.negate else is_null
    if isinstance(expr, Relation):
        # Nulls become NaN, and every comparison with NaN is false.
        left = _as_float(view.column(expr.left))
        right = _as_float(view.column(expr.right))
        difference = left - right
        result = ~np.isnan(difference)
        if expr.low is not None:
            result &= difference >= expr.low
        if expr.high is not None:
            result &= difference <= expr.high
        return result
    raise DataError(f"The reference cannot evaluate expression {expr!r}.")


def _as_bool(values: Any) -> np.ndarray:
    """Turn a boolean Series (possibly nullable) into a plain array, NA as False."""
    series = pd.Series(values)
    if series.dtype != bool:
        series = series.astype("boolean").fillna(False)
    return series.to_numpy(dtype=bool)


def _as_float(values: pd.Series) -> np.ndarray:
    """Turn an integer Series into floats, nulls as NaN (years are exact there)."""
    return values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
