"""Turning the parties' output shares into the released table.

Only the coordinator does this. It receives one share file per party, checks
that they all belong to the same request and session plan, reconstructs every
released cell and suppression flag, and checks that all parties' shares lie on
one polynomial of the threshold's degree, which catches a party that returned
corrupted or mismatched shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mpc import noise, sharing
from mpc.field import SMALL
from parties.errors import CrpError
from parties.plan import Plan
from parties.table import ReleasedTable


class InconsistentShares(CrpError):
    """The parties' output shares do not reconstruct consistently."""


def reconstruct_table(
    plan: Plan, outputs: Mapping[int, dict[str, Any]], threshold: int
) -> ReleasedTable:
    """Reconstruct the released table from the parties' output JSON documents."""
    if len(outputs) < threshold + 1:
        raise InconsistentShares(
            f"Only {len(outputs)} parties returned shares; at least {threshold + 1} "
            "are needed."
        )
    expected = plan.session.digest()
    wrong = sorted(p for p, out in outputs.items() if out.get("digest") != expected)
    if wrong:
        raise InconsistentShares(
            f"Parties {wrong} returned shares for a different session plan."
        )

    released = {p: _shares(out["released"]) for p, out in outputs.items()}
    if not sharing.consistent(SMALL, released, threshold):
        raise InconsistentShares(
            "The parties' shares of the released values do not lie on one "
            f"polynomial of degree {threshold}; a party returned corrupted shares."
        )
    codes = {p: np.asarray(out["rules"], dtype=np.int64) for p, out in outputs.items()}
    first = next(iter(codes.values()))
    if any(not np.array_equal(first, c) for c in codes.values()):
        raise InconsistentShares(
            "The parties report different suppression patterns for the same session."
        )
    values = SMALL.to_signed(sharing.recombine(SMALL, released, threshold))
    return ReleasedTable.from_codes(
        plan.request, values, first, disclosure_summary(plan, len(outputs), threshold)
    )


def disclosure_summary(plan: Plan, parties: int, threshold: int) -> dict[str, Any]:
    """The disclosure rules printed with a table, with the noise actually added."""
    rules = plan.request.disclosure
    out = rules.describe()
    alpha = plan.session.rules.noise_alpha
    epsilon = rules.effective_epsilon()
    if alpha is not None and epsilon is not None:
        honest = parties - threshold
        scale = len(plan.request.columns) / epsilon
        out["noise"] = "discrete Laplace, split over the parties"
        out["noise_scale"] = round(scale, 3)
        out["sensitivity"] = len(plan.request.columns)
        out["noise_sd_total"] = round(
            math.sqrt(parties / honest * noise.laplace_variance(alpha)), 3
        )
    return out


def _shares(rows: list[list[int]]) -> np.ndarray:
    return np.asarray([[int(v) for v in row] for row in rows], dtype=np.uint64)
