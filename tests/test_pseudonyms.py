"""Pseudonyms: equal keys meet, different keys do not, and only masks are opened."""

import numpy as np
from fakenet import run_parties

from mpc import pseudonyms, sharing
from mpc.field import GROUP, GROUP_ORDER


def _pseudonyms_of(keys: list[int], parties: int = 4, threshold: int = 1):
    shares = sharing.split(
        GROUP, GROUP.from_ints(np.array(keys, dtype=object)), threshold, parties
    )

    async def step(ctx):
        return await pseudonyms.pseudonyms(ctx, shares[ctx.party])

    results, ctxs = run_parties(parties, threshold, step)
    return results, ctxs


def test_equal_keys_get_equal_pseudonyms_and_others_differ() -> None:
    keys = [111, 222, 111, 333, 222, 444]

    results, _ = _pseudonyms_of(keys)

    names = [bytes(row) for row in results[0]]
    assert all(np.array_equal(results[0], r) for r in results)
    assert names[0] == names[2] and names[1] == names[4]
    assert len(set(names)) == 4


def test_pseudonyms_change_from_session_to_session() -> None:
    first, _ = _pseudonyms_of([5, 6, 7])
    second, _ = _pseudonyms_of([5, 6, 7])

    assert not np.array_equal(first[0], second[0])


def test_six_parties_with_threshold_two_agree() -> None:
    results, ctxs = _pseudonyms_of(list(range(20)) * 2, parties=6, threshold=2)

    names = [bytes(row) for row in results[3]]
    assert names[:20] == names[20:]
    assert len(set(names)) == 20


def test_only_declared_kinds_are_opened_and_masks_look_random() -> None:
    _, ctxs = _pseudonyms_of([1] * 50)

    kinds = set().union(*(ctx.transcript.kinds() for ctx in ctxs))
    assert kinds <= {
        "masked_key",
        "masked_key_inverse",
        "pseudonym_share",
        "pseudonyms",
    }
    masks = [
        int(v)
        for ctx in ctxs
        for k, v in ctx.transcript.entries
        if k == "masked_key"
        for v in v
    ]
    # The same key fifty times: the opened values still all differ.
    assert len(set(masks)) == len(masks) == 50
    assert all(0 < v < GROUP_ORDER for v in masks)
