"""Local preparation: one partner turns its own records into rows for the MPC.

Everything here runs at the partner's own node, in the clear, on its own data
only. It filters the records (population partners), keeps one row per student,
computes the block of 0/1 columns the plan asks for (:mod:`parties.plan`), and
evaluates the request circuit on each row as if the student were seen by this
partner alone (the "solo" columns, used when no other partner knows the student).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mpc.engine import PartyRows
from mpc.field import SMALL
from parties.errors import RequestError
from parties.expressions import (
    And,
    Const,
    Exists,
    Expr,
    InSet,
    IsNull,
    Not,
    Or,
    Relation,
)
from parties.plan import Feature, PartnerEncoding, Plan
from parties.schema import Schema, record_sort_keys

KEY = "_key"


@dataclass
class EncodedPartner:
    """A partner's students (keys) and their blocks, before the solo columns."""

    keys: np.ndarray
    block: np.ndarray
    records_used: int


def evaluate_row_condition(
    expr: Expr,
    frame: pd.DataFrame,
    partner: str | None,
    outer: dict[str, Any] | None = None,
) -> np.ndarray:
    """Evaluate a row-level condition on every row of ``frame``.

    Column references to ``partner`` read the row. References to the population
    (``partner is None`` in the reference) read the row too when ``outer`` is None
    (a population filter), and otherwise take the given outer value.
    """
    rows = len(frame)

    def column(ref: Any) -> tuple[pd.Series | None, Any]:
        if ref.partner == partner or (ref.partner is None and outer is None):
            return frame[ref.column], None
        if ref.partner is None and outer is not None and ref.column in outer:
            return None, outer[ref.column]
        raise RequestError(f"Column {ref} cannot be read in this condition.")

    def ev(node: Expr) -> np.ndarray:
        if isinstance(node, Const):
            return np.full(rows, node.value, dtype=bool)
        if isinstance(node, And):
            result = np.ones(rows, dtype=bool)
            for item in node.items:
                result &= ev(item)
            return result
        if isinstance(node, Or):
            result = np.zeros(rows, dtype=bool)
            for item in node.items:
                result |= ev(item)
            return result
        if isinstance(node, Not):
            return ~ev(node.item)
        if isinstance(node, InSet):
            series, scalar = column(node.ref)
            if series is None:
                return np.full(rows, scalar is not None and scalar in node.values)
            values = list(node.values)
            return (series.notna() & series.isin(values)).to_numpy(dtype=bool)
        if isinstance(node, IsNull):
            series, scalar = column(node.ref)
            null = (
                series.isna().to_numpy()
                if series is not None
                else np.full(rows, scalar is None)
            )
            return ~null if node.negate else null
        if isinstance(node, Relation):
            left = _numeric(*column(node.left), rows)
            right = _numeric(*column(node.right), rows)
            ok = ~np.isnan(left) & ~np.isnan(right)
            diff = np.where(ok, left - right, 0)
            if node.low is not None:
                ok &= diff >= node.low
            if node.high is not None:
                ok &= diff <= node.high
            return ok
        if isinstance(node, Exists):
            raise RequestError("exists() cannot be evaluated on single records.")
        raise RequestError(f"Unknown condition {node!r}.")

    return ev(expr)


def _numeric(series: pd.Series | None, scalar: Any, rows: int) -> np.ndarray:
    if series is None:
        return np.full(rows, np.nan if scalar is None else float(scalar))
    return series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def representative(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """One record per student: the first by the schema's record order (see
    :func:`parties.schema.record_sort_keys`), ties in file order."""
    ranked = frame.reset_index(drop=True)
    keys = record_sort_keys(ranked, schema)
    if keys:
        helper = pd.DataFrame({f"_k{i}": k for i, k in enumerate(keys)})
        order = helper.sort_values(
            list(helper.columns), ascending=True, na_position="last", kind="stable"
        ).index
        ranked = ranked.iloc[order.to_numpy()]
    return ranked.drop_duplicates(KEY, keep="first").set_index(KEY)


def encode_partner(
    frame: pd.DataFrame, encoding: PartnerEncoding, plan: Plan
) -> EncodedPartner:
    """Compute the keys and the block of one partner from its loaded records."""
    request = plan.request
    if encoding.is_population and request.population.where is not None:
        keep = evaluate_row_condition(request.population.where, frame, None, None)
        frame = frame.loc[keep]
    frame = frame.reset_index(drop=True)

    keys = np.unique(frame[KEY].to_numpy(dtype=np.int64))
    position = pd.Index(keys)
    block = np.zeros((len(keys), encoding.width), dtype=np.int64)
    rep = representative(frame, encoding.schema).reindex(keys)
    row_keys = frame[KEY].to_numpy(dtype=np.int64)
    row_slot = position.get_indexer(row_keys)

    for j, feature in enumerate(encoding.features):
        block[:, j] = _feature_column(
            feature, frame, rep, row_slot, len(keys), encoding
        )
    return EncodedPartner(keys=keys, block=block, records_used=len(frame))


def _feature_column(
    feature: Feature,
    frame: pd.DataFrame,
    rep: pd.DataFrame,
    row_slot: np.ndarray,
    students: int,
    encoding: PartnerEncoding,
) -> np.ndarray:
    if feature.kind == "present":
        return np.ones(students, dtype=np.int64)
    if feature.kind == "class":
        series = rep[feature.column]
        hit = series.notna() & series.isin(list(feature.values))
        return hit.to_numpy(dtype=bool).astype(np.int64)
    if feature.kind == "level":
        series = rep[feature.column]
        if feature.missing:
            return series.isna().to_numpy(dtype=bool).astype(np.int64)
        hit = series.notna() & series.isin(list(feature.values))
        return hit.to_numpy(dtype=bool).astype(np.int64)
    if feature.kind in ("flag", "window"):
        if feature.cond is None:
            raise RequestError("A flag feature needs a condition.")
        outer: dict[str, Any] = {}
        if feature.kind == "window" and feature.outer is not None:
            outer = {feature.outer: feature.outer_value}
        hits = evaluate_row_condition(feature.cond, frame, encoding.partner, outer)
        out = np.zeros(students, dtype=np.int64)
        np.maximum.at(out, row_slot[hits], 1)
        return out
    raise RequestError(f"Unknown feature kind {feature.kind!r}.")


def party_rows(
    plan: Plan, partner: str | None, frame: pd.DataFrame | None
) -> PartyRows:
    """This party's full rows: solo cells and measures, then its block in place.

    A partner the request does not read, and a compute-only node, input no rows.
    """
    layout = plan.session.layout
    if partner is None or frame is None or partner not in plan.encodings:
        return PartyRows.empty(layout.width)
    encoding = plan.encodings[partner]
    encoded = encode_partner(frame, encoding, plan)

    blocks = np.zeros((len(encoded.keys), plan.block_width), dtype=np.int64)
    blocks[:, encoding.offset : encoding.offset + encoding.width] = encoded.block
    circuit = plan.session.circuit
    solo = circuit.evaluate_plain(
        blocks, [*plan.session.cell_roots, *plan.session.measure_roots]
    )
    if solo.size and (solo.min() < 0 or solo.max() > 1):
        raise RequestError("The request circuit produced a value outside 0/1.")
    rows = np.concatenate([solo, blocks], axis=1)
    return PartyRows(keys=encoded.keys, rows=SMALL.from_ints(rows))
