"""Turning the parties' output shares into the released table.

Only the coordinator does this. It receives one share file per party, checks
that they all belong to the same request and session plan, reconstructs every
released cell and suppression flag, and checks that all parties' shares lie on
one polynomial of the threshold's degree, which catches a party that returned
corrupted or mismatched shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mpc import sharing
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
    flags = {p: _shares(out["suppressed"]) for p, out in outputs.items()}
    for name, shares in (("released values", released), ("suppression flags", flags)):
        if not sharing.consistent(SMALL, shares, threshold):
            raise InconsistentShares(
                f"The parties' shares of the {name} do not lie on one polynomial of "
                f"degree {threshold}; a party returned corrupted shares."
            )
    values = SMALL.to_signed(sharing.recombine(SMALL, released, threshold))
    suppressed = SMALL.to_signed(sharing.recombine(SMALL, flags, threshold))
    if not np.isin(suppressed, (0, 1)).all():
        raise InconsistentShares("A reconstructed suppression flag is neither 0 nor 1.")

    request = plan.request
    return ReleasedTable(
        name=request.name,
        title=request.title,
        dimension_labels=tuple(dim.label for dim in request.dimensions),
        cell_labels=[tuple(level.label for level in cell) for cell in plan.cells],
        columns=("students", *(m.name for m in request.measures)),
        column_labels=("Students", *(m.label for m in request.measures)),
        values=values,
        suppressed=suppressed.astype(bool),
        digest=request.digest,
        reasons={"min_cell_size": suppressed.astype(bool)},
        disclosure={"min_cell_size": request.disclosure.min_cell_size},
    )


def _shares(rows: list[list[int]]) -> np.ndarray:
    return np.asarray([[int(v) for v in row] for row in rows], dtype=np.uint64)
