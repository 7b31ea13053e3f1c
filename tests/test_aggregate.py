"""Grouping by pseudonym, degree reduction and circuits evaluated on shares."""

import numpy as np
import pytest
from fakenet import run_parties

from mpc import aggregate, sharing
from mpc.circuit import Circuit
from mpc.field import SMALL


def test_group_rows_separates_singletons_and_ranks_group_members() -> None:
    names = np.array([[1], [2], [1], [3], [2], [1]], dtype=np.uint8).repeat(32, axis=1)

    groups = aggregate.group_rows(names)

    assert groups.single_rows.tolist() == [3]
    assert sorted(groups.multi_rows.tolist()) == [0, 1, 2, 4, 5]
    assert groups.group_count == 2
    assert groups.histogram == {1: 1, 2: 1, 3: 1}
    for group in range(groups.group_count):
        ranks = groups.multi_rank[groups.multi_group == group]
        assert sorted(ranks.tolist()) == list(range(len(ranks)))


@pytest.mark.parametrize(("parties", "threshold"), [(3, 1), (6, 2)])
def test_degree_reduction_keeps_the_product(parties, threshold) -> None:
    a = SMALL.from_ints(np.arange(1, 11))
    b = SMALL.from_ints(np.arange(11, 21))
    a_shares = sharing.split(SMALL, a, threshold, parties)
    b_shares = sharing.split(SMALL, b, threshold, parties)

    async def step(ctx):
        local = SMALL.mul(a_shares[ctx.party], b_shares[ctx.party])
        return await aggregate.reduce_degree(ctx, local, "test")

    results, _ = run_parties(parties, threshold, step)

    shares = dict(enumerate(results))
    assert sharing.consistent(SMALL, shares, threshold)
    assert sharing.recombine(SMALL, shares, threshold).tolist() == [
        x * y for x, y in zip(range(1, 11), range(11, 21), strict=True)
    ]


def test_circuit_on_shares_matches_plain_evaluation() -> None:
    rng = np.random.default_rng(5)
    circuit = Circuit(width=5)
    x = [circuit.input(i) for i in range(5)]
    roots = [
        circuit.or_([circuit.and_([x[0], x[1]]), circuit.not_(x[2])]),
        circuit.dot([(x[0], x[3]), (x[1], x[4])]),
        circuit.mul(circuit.dot([(x[0], x[3]), (x[1], x[4])]), x[2]),
        circuit.const(1),
    ]
    rows = rng.integers(0, 2, size=(200, 5))
    shares = sharing.split(SMALL, SMALL.from_ints(rows), 2, 6)

    async def step(ctx):
        return await aggregate.evaluate_shared(
            ctx, circuit, shares[ctx.party], roots, "c"
        )

    results, _ = run_parties(6, 2, step)

    values = SMALL.to_signed(sharing.recombine(SMALL, dict(enumerate(results)), 2))
    assert np.array_equal(values, circuit.evaluate_plain(rows, roots))
