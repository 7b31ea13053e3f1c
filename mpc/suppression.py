"""The additive structure of a released table, and complementary suppression.

A table has row cells (the product of its dimensions' levels; a dimension may
end with a *total* level that sums the others) and columns (students, then the
measures; a request may declare that a column is the sum of others). Every
total is a linear relation between cells. A suppressed cell is *derivable* when
the released cells and these relations fix its value; complementary suppression
adds cells to the suppressed set until no suppressed cell is derivable.

This module works on public information only: the shape of the table and the
suppression pattern. Which released cell to suppress next depends on the
values, so the caller passes an ``argmin`` that picks the smallest among
candidates (inside the MPC, or in the clear for the plaintext reference).

Algorithm (deterministic, so that the MPC and the reference agree): while some
suppressed cell is derivable, take the derivable cell with the lowest index; take
the first relation containing it in which it is the only suppressed cell (else
the first relation containing it); suppress the released cell of that relation
with the smallest value, ties to the lowest index. Derivability is exact linear
algebra over the rationals, computed modulo a large prime: a suppressed cell is
derivable iff every vector in the null space of the relations restricted to the
suppressed cells vanishes at it. Bounds such as "counts are not negative" are
not used, so a cell pinned only by such bounds counts as protected.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Rank computations modulo this prime equal those over the rationals unless the
# prime divides a minor of a 0/1/-1 matrix, which is vanishingly unlikely.
_PRIME = (1 << 31) - 1

# Rule codes of a suppressed cell, in the order rules are applied.
RELEASED = 0
MIN_CELL_SIZE = 1
COMPLEMENT = 2
COMPLEMENTARY = 3
RULE_NAMES = {
    MIN_CELL_SIZE: "min_cell_size",
    COMPLEMENT: "complement",
    COMPLEMENTARY: "complementary",
}


@dataclass(frozen=True)
class TableShape:
    """Dimensions (levels per dimension, and whether a total level follows them),
    the number of columns, and declared column sums ``(total, parts)``."""

    levels: tuple[int, ...]
    totals: tuple[bool, ...]
    columns: int
    column_sums: tuple[tuple[int, tuple[int, ...]], ...] = ()

    @property
    def full_levels(self) -> tuple[int, ...]:
        return tuple(n + int(t) for n, t in zip(self.levels, self.totals, strict=True))

    @property
    def base_cells(self) -> int:
        return int(np.prod(self.levels, dtype=np.int64)) if self.levels else 1

    @property
    def full_cells(self) -> int:
        return int(np.prod(self.full_levels, dtype=np.int64)) if self.levels else 1

    @property
    def size(self) -> int:
        """Number of cells of the released table (row cells times columns)."""
        return self.full_cells * self.columns

    def margin_matrix(self) -> np.ndarray:
        """0/1 matrix mapping base row cells to full row cells (totals included)."""
        full = list(itertools.product(*(range(n) for n in self.full_levels)))
        base_index = {
            combo: i
            for i, combo in enumerate(
                itertools.product(*(range(n) for n in self.levels))
            )
        }
        matrix = np.zeros((len(full), self.base_cells), dtype=np.int64)
        for f, combo in enumerate(full):
            choices = [
                range(self.levels[d]) if level == self.levels[d] else (level,)
                for d, level in enumerate(combo)
            ]
            for base in itertools.product(*choices):
                matrix[f, base_index[base]] = 1
        return matrix

    @cached_property
    def relations(self) -> list[tuple[int, tuple[int, ...]]]:
        """Every ``total = sum(parts)`` relation over flat indices ``cell * columns +
        column``, in a fixed order: dimension totals first, then column sums."""
        full = self.full_levels
        index = {
            combo: i
            for i, combo in enumerate(itertools.product(*(range(n) for n in full)))
        }
        out: list[tuple[int, tuple[int, ...]]] = []
        for d, has_total in enumerate(self.totals):
            if not has_total:
                continue
            others = [range(n) if e != d else (None,) for e, n in enumerate(full)]
            for combo in itertools.product(*others):
                total_combo = tuple(self.levels[d] if x is None else x for x in combo)
                part_combos = [
                    tuple(level if x is None else x for x in combo)
                    for level in range(self.levels[d])
                ]
                for column in range(self.columns):
                    out.append(
                        (
                            index[total_combo] * self.columns + column,
                            tuple(
                                index[p] * self.columns + column for p in part_combos
                            ),
                        )
                    )
        for total_column, parts in self.column_sums:
            for cell in range(self.full_cells):
                out.append(
                    (
                        cell * self.columns + total_column,
                        tuple(cell * self.columns + p for p in parts),
                    )
                )
        return out


def derivable(shape: TableShape, suppressed: np.ndarray) -> list[int]:
    """Flat indices of suppressed cells whose value the released cells determine."""
    hidden = np.flatnonzero(suppressed)
    if hidden.size == 0 or not shape.relations:
        return []
    position = {int(cell): k for k, cell in enumerate(hidden)}
    rows = []
    for total, parts in shape.relations:
        row = np.zeros(hidden.size, dtype=np.int64)
        touched = False
        if total in position:
            row[position[total]] = 1
            touched = True
        for part in parts:
            if part in position:
                row[position[part]] = (row[position[part]] - 1) % _PRIME
                touched = True
        if touched:
            rows.append(row)
    if not rows:
        return []
    null = _null_space(np.array(rows, dtype=np.int64))
    if null.shape[0] == 0:
        return [int(c) for c in hidden]
    free = np.any(null != 0, axis=0)
    return [int(cell) for k, cell in enumerate(hidden) if not free[k]]


def _null_space(matrix: np.ndarray) -> np.ndarray:
    """A basis (rows) of the null space of ``matrix`` modulo the prime."""
    a = matrix % _PRIME
    rows, cols = a.shape
    pivots: list[int] = []
    r = 0
    for c in range(cols):
        if r == rows:
            break
        nonzero = np.flatnonzero(a[r:, c])
        if nonzero.size == 0:
            continue
        p = r + int(nonzero[0])
        a[[r, p]] = a[[p, r]]
        inv = pow(int(a[r, c]), _PRIME - 2, _PRIME)
        a[r] = (a[r] * inv) % _PRIME
        others = np.flatnonzero(a[:, c])
        others = others[others != r]
        if others.size:
            factors = a[others, c][:, None]
            a[others] = (a[others] - factors * a[r][None, :]) % _PRIME
        pivots.append(c)
        r += 1
    free = [c for c in range(cols) if c not in pivots]
    basis = np.zeros((len(free), cols), dtype=np.int64)
    for k, f in enumerate(free):
        basis[k, f] = 1
        for i, pc in enumerate(pivots):
            basis[k, pc] = (-a[i, f]) % _PRIME
    return basis


async def complete(
    shape: TableShape,
    rules: np.ndarray,
    argmin: Callable[[Sequence[int]], Awaitable[int]],
) -> np.ndarray:
    """Add complementary suppressions to ``rules`` (flat rule codes, 0 = released)
    until no suppressed cell is derivable; returns the new rule codes."""
    rules = np.array(rules, dtype=np.int64).copy()
    while True:
        pending = derivable(shape, rules != RELEASED)
        if not pending:
            return rules
        cell = pending[0]
        containing = [
            (total, parts)
            for total, parts in shape.relations
            if cell == total or cell in parts
        ]
        chosen = None
        for total, parts in containing:
            members = (total, *parts)
            if sum(1 for m in members if rules[m] != RELEASED) == 1:
                chosen = members
                break
        if chosen is None and containing:
            chosen = (containing[0][0], *containing[0][1])
        candidates = sorted({m for m in (chosen or ()) if rules[m] == RELEASED})
        if not candidates:
            candidates = [int(i) for i in np.flatnonzero(rules == RELEASED)]
        if not candidates:
            return rules
        pick = await argmin(candidates)
        if pick not in candidates:
            raise ValueError(f"argmin returned {pick}, not one of the candidates")
        rules[pick] = COMPLEMENTARY
