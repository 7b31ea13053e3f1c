"""Counting cells over pseudonymous groups of shuffled rows.

Adversary: semi-honest, at most ``t`` of ``m`` parties corrupted, ``t < m/2``.

After :mod:`mpc.pseudonyms`, rows with equal pseudonyms belong to one student.
The layout of every row is ``[solo cells | solo measures | partner blocks]``:

* For a student with a single row (a *singleton*) the owner has already
  evaluated the request circuit on that row in the clear (it is the only data
  about that student), so the row's first ``C + K`` columns are the student's
  cell indicators and measure values.
* For a student with several rows, the parties add the rows up (each partner
  fills only its own block, so the sum holds every partner's block) and evaluate
  the circuit on shares: linear steps are local, each level of products costs
  one degree reduction (Gennaro, Rabin and Rabin, "Simplified VSS and fast-track
  multiparty computations", PODC 1998), with compressed dealings.

The table is then ``students[c] = sum_g D[g, c]`` (local) and
``measures[c, k] = sum_g D[g, c] M[g, k]`` (a local matrix product of degree
``2t``, then one degree reduction for the whole table).

Cost: one degree reduction per circuit level over the multi-row groups, plus one
for the table; singletons cost only local work. Nothing is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mpc import sharing
from mpc.circuit import Circuit
from mpc.context import SessionContext
from mpc.dealing import sum_of_dealings
from mpc.errors import ProtocolError
from mpc.field import SMALL, SMALL_MODULUS, lagrange_coefficients


@dataclass(frozen=True)
class Layout:
    """Where the solo columns and the partner blocks sit in a row."""

    cells: int
    measures: int
    width: int

    @property
    def block_start(self) -> int:
        return self.cells + self.measures


@dataclass
class Groups:
    """The grouping of shuffled rows by pseudonym (public)."""

    single_rows: np.ndarray
    multi_rows: np.ndarray
    multi_group: np.ndarray
    multi_rank: np.ndarray
    group_count: int
    histogram: dict[int, int]


def group_rows(pseudonyms: np.ndarray) -> Groups:
    """Group rows whose pseudonyms are equal."""
    rows = pseudonyms.shape[0]
    if rows == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Groups(empty, empty, empty, empty, 0, {})
    view = np.ascontiguousarray(pseudonyms).view(f"V{pseudonyms.shape[1]}").ravel()
    _, inverse, counts = np.unique(view, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    size = counts[inverse]
    single_rows = np.nonzero(size == 1)[0]
    multi_rows = np.nonzero(size > 1)[0]

    # Number the multi-row groups 0.. and rank the rows within each group.
    _, multi_group = np.unique(inverse[multi_rows], return_inverse=True)
    multi_group = multi_group.ravel().astype(np.int64)
    order = np.argsort(multi_group, kind="stable")
    sorted_groups = multi_group[order]
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    rank = np.empty_like(multi_group)
    rank[order] = np.arange(order.size) - starts
    histogram = {int(s): int(c) for s, c in enumerate(np.bincount(counts)) if c and s}
    group_count = int(multi_group.max()) + 1 if multi_group.size else 0
    return Groups(single_rows, multi_rows, multi_group, rank, group_count, histogram)


async def reduce_degree(
    ctx: SessionContext, values: np.ndarray, label: object
) -> np.ndarray:
    """Fresh degree-``t`` shares of values held with degree ``2t`` (GRR).

    ``2t + 1`` parties deal their shares, premultiplied by their Lagrange
    coefficients; every party adds up what it receives. ``(2t + 1)(m - t - 1)``
    arrays are sent.
    """
    me, t, m = ctx.party, ctx.threshold, ctx.parties
    values = np.asarray(values, dtype=np.uint64)
    shape = values.shape
    dealers = tuple(range(2 * t + 1))
    weights = lagrange_coefficients(
        SMALL_MODULUS, tuple(sharing.point(d) for d in dealers), 0
    )

    dealt = None
    if me in dealers:
        weighted = SMALL.scale(values, weights[dealers.index(me)])
        dealt = sharing.deal(SMALL, weighted, me, t, m, ctx.pair_keys, label)
    return await sum_of_dealings(ctx, SMALL, dealt, dealers, t, shape, label)


async def evaluate_shared(
    ctx: SessionContext,
    circuit: Circuit,
    inputs: np.ndarray,
    roots: Sequence[int],
    label: str,
) -> np.ndarray:
    """Evaluate the circuit on shared input vectors (one per row of ``inputs``)."""
    count = inputs.shape[0]
    if inputs.shape[1] != circuit.width:
        raise ProtocolError(
            f"The circuit takes {circuit.width} columns but the groups have "
            f"{inputs.shape[1]}."
        )
    depths = circuit.depth()
    need = circuit.needed(roots)
    values: dict[int, np.ndarray] = {}

    def value(index: int) -> np.ndarray:
        """Shares of a node whose products are already reduced (linear closure)."""
        if index in values:
            return values[index]
        node = circuit.nodes[index]
        kind = node[0]
        if kind == "in":
            result = inputs[:, node[1]]
        elif kind == "const":
            result = np.full(count, node[1] % SMALL_MODULUS, dtype=np.uint64)
        elif kind == "lin":
            result = np.full(count, node[2] % SMALL_MODULUS, dtype=np.uint64)
            for coef, other in node[1]:
                result = SMALL.add(result, SMALL.scale(value(other), coef))
        else:
            raise ProtocolError(f"Product node {index} used before it was reduced.")
        values[index] = result
        return result

    levels = max((depths[i] for i in range(len(circuit.nodes)) if need[i]), default=0)
    for level in range(1, levels + 1):
        products = [
            i
            for i, node in enumerate(circuit.nodes)
            if need[i] and depths[i] == level and node[0] in ("mul", "dot")
        ]
        if not products:
            continue
        local = np.empty((count, len(products)), dtype=np.uint64)
        for j, index in enumerate(products):
            node = circuit.nodes[index]
            pairs = [(node[1], node[2])] if node[0] == "mul" else list(node[1])
            total = SMALL.mul(value(pairs[0][0]), value(pairs[0][1]))
            for a, b in pairs[1:]:
                total = SMALL.add(total, SMALL.mul(value(a), value(b)))
            local[:, j] = total
        reduced = await reduce_degree(ctx, local, (label, "level", level))
        for j, index in enumerate(products):
            values[index] = reduced[:, j]

    if not roots:
        return SMALL.zeros((count, 0))
    return np.stack([value(r) for r in roots], axis=1)


async def aggregate(
    ctx: SessionContext,
    single: np.ndarray,
    multi: np.ndarray,
    groups: Groups,
    layout: Layout,
    circuit: Circuit,
    cell_roots: Sequence[int],
    measure_roots: Sequence[int],
    label: str = "aggregate",
) -> np.ndarray:
    """Shares (degree ``t``) of the table: ``cells x (1 + measures)``, students first.

    ``single`` holds the solo columns of the singleton rows (in the order of
    ``groups.single_rows``), ``multi`` the partner blocks of the rows of
    multi-row groups (in the order of ``groups.multi_rows``).
    """
    cells, measures = layout.cells, layout.measures
    if len(cell_roots) != cells or len(measure_roots) != measures:
        raise ProtocolError("The circuit outputs do not match the row layout.")

    # Singletons: the owners' own evaluation, carried in the solo columns.
    single_cells = single[:, :cells]
    single_measures = single[:, cells : layout.block_start]

    # Groups of several rows: add the blocks up, then evaluate the circuit.
    blocks = SMALL.zeros((groups.group_count, layout.width - layout.block_start))
    for rank in range(
        int(groups.multi_rank.max()) + 1 if groups.multi_rank.size else 0
    ):
        pick = groups.multi_rank == rank
        targets = groups.multi_group[pick]
        blocks[targets] = SMALL.add(blocks[targets], multi[pick])
    outputs = await evaluate_shared(
        ctx, circuit, blocks, [*cell_roots, *measure_roots], label
    )
    multi_cells, multi_measures = outputs[:, :cells], outputs[:, cells:]

    # Students per cell are linear; measures per cell need one reduction.
    ones_single = np.ones((single.shape[0], 1), dtype=np.uint64)
    ones_multi = np.ones((groups.group_count, 1), dtype=np.uint64)
    students = SMALL.add(
        SMALL.dot_t(single_cells, ones_single), SMALL.dot_t(multi_cells, ones_multi)
    )
    if measures:
        products = SMALL.add(
            SMALL.dot_t(single_cells, single_measures),
            SMALL.dot_t(multi_cells, multi_measures),
        )
        counted = await reduce_degree(ctx, products, (label, "table"))
    else:
        counted = SMALL.zeros((cells, 0))
    return np.concatenate([students, counted], axis=1)
