"""The resharing shuffle: schedules hide every coalition, rows survive intact."""

import itertools

import numpy as np
import pytest
from fakenet import run_parties

from mpc import sharing, shuffle
from mpc.field import GROUP, SMALL


@pytest.mark.parametrize(
    ("parties", "threshold"), [(3, 1), (4, 1), (5, 2), (6, 2), (7, 3)]
)
def test_schedule_leaves_every_coalition_out_of_some_set(parties, threshold) -> None:
    sets = shuffle.schedule(parties, threshold)

    for coalition in itertools.combinations(range(parties), threshold):
        assert any(not set(coalition) & set(s) for s in sets)
    assert all(len(s) == threshold + 1 for s in sets)


def test_schedule_is_short_for_the_federation_sizes_we_run() -> None:
    assert len(shuffle.schedule(4, 1)) == 2
    assert len(shuffle.schedule(6, 2)) == 6


def _run_shuffle(parties: int, threshold: int, counts: list[int]):
    rng = np.random.default_rng(7)
    width = 3
    inputs = []
    for party, count in enumerate(counts):
        keys = GROUP.from_ints(
            np.array([1000 * party + i for i in range(count)], dtype=object)
        )
        rows = SMALL.from_ints(rng.integers(0, 50, size=(count, width)))
        inputs.append((keys, rows))

    async def step(ctx):
        keys, rows = inputs[ctx.party]
        blocks = [shuffle.Block(GROUP, keys), shuffle.Block(SMALL, rows)]
        return await shuffle.shuffle(ctx, blocks, counts)

    results, ctxs = run_parties(parties, threshold, step)
    keys = sharing.recombine(
        GROUP, {p: r[0].values for p, r in enumerate(results)}, threshold
    )
    rows = sharing.recombine(
        SMALL, {p: r[1].values for p, r in enumerate(results)}, threshold
    )
    return inputs, keys, rows, ctxs


@pytest.mark.parametrize(("parties", "threshold"), [(3, 1), (4, 1), (6, 2)])
def test_shuffle_outputs_the_union_of_rows_in_a_new_order(parties, threshold) -> None:
    counts = [40, 0, 25] + [10] * (parties - 3)

    inputs, keys, rows, _ = _run_shuffle(parties, threshold, counts)

    original = {
        int(k): tuple(int(v) for v in r)
        for ks, rs in inputs
        for k, r in zip(ks, rs, strict=True)
    }
    shuffled = {
        int(k): tuple(int(v) for v in r) for k, r in zip(keys, rows, strict=True)
    }
    assert shuffled == original
    order = [int(k) for k in keys]
    assert order != sorted(order)


def test_shuffle_shares_are_consistent_and_nothing_is_opened() -> None:
    counts = [30, 20, 10, 0, 0, 5]

    async def step(ctx):
        rows = SMALL.from_ints(np.ones((counts[ctx.party], 2), dtype=np.int64))
        keys = GROUP.from_ints(np.zeros(counts[ctx.party], dtype=object))
        blocks = [shuffle.Block(GROUP, keys), shuffle.Block(SMALL, rows)]
        return await shuffle.shuffle(ctx, blocks, counts)

    results, ctxs = run_parties(6, 2, step)

    shares = {p: r[1].values for p, r in enumerate(results)}
    assert sharing.consistent(SMALL, shares, 2)
    assert all(not ctx.transcript.entries for ctx in ctxs)
