"""Shamir sharing, compressed dealing and consistency checks."""

import numpy as np
import pytest

from mpc import prg, sharing
from mpc.field import GROUP, SMALL


@pytest.mark.parametrize("field", [SMALL, GROUP])
@pytest.mark.parametrize(("parties", "degree"), [(3, 1), (4, 1), (6, 2), (7, 3)])
def test_split_shares_recombine_from_any_degree_plus_one(
    field, parties, degree
) -> None:
    secret = field.from_ints(np.arange(20, dtype=np.int64) * 1_000_003)

    shares = sharing.split(field, secret, degree, parties)

    for start in range(parties - degree):
        chosen = {p: shares[p] for p in range(start, start + degree + 1)}
        assert [int(v) for v in sharing.recombine(field, chosen, degree)] == [
            int(v) for v in secret
        ]


def test_consistency_check_spots_a_tampered_share() -> None:
    secret = SMALL.from_ints(np.arange(10))
    shares = dict(enumerate(sharing.split(SMALL, secret, 2, 6)))
    assert sharing.consistent(SMALL, shares, 2)

    shares[4] = SMALL.add(shares[4], SMALL.from_ints(np.ones(10, dtype=np.int64)))

    assert not sharing.consistent(SMALL, shares, 2)


def test_compressed_dealing_gives_a_degree_t_sharing_of_the_value() -> None:
    parties, degree, dealer = 6, 2, 4
    keys = {p: prg.fresh_key() for p in range(parties) if p != dealer}
    value = SMALL.from_ints(np.array([5, 0, 99], dtype=np.int64))

    explicit = sharing.deal(SMALL, value, dealer, degree, parties, keys, "x")
    drawn = {
        h: sharing.helper_share(SMALL, dealer, h, value.shape, keys[h], "x")
        for h in sharing.helpers(dealer, parties, degree)
    }
    shares = {**explicit, **drawn}

    assert sorted(shares) == list(range(parties))
    assert sharing.consistent(SMALL, shares, degree)
    assert sharing.recombine(SMALL, shares, degree).tolist() == [5, 0, 99]
    assert len(explicit) == parties - degree


def test_zero_sharing_reconstructs_to_zero_with_the_requested_degree() -> None:
    parties, degree = 6, 4
    keys = {p: prg.fresh_key() for p in range(1, parties)}

    explicit = sharing.zero_sharing(SMALL, 0, degree, parties, keys, (7,), "z")
    drawn = {
        h: sharing.helper_share(SMALL, 0, h, (7,), keys[h], "z")
        for h in sharing.helpers(0, parties, degree)
    }
    shares = {**explicit, **drawn}

    assert sharing.recombine(SMALL, shares, degree).tolist() == [0] * 7
    assert not np.array_equal(shares[1], np.zeros(7, dtype=np.uint64))


def test_recombine_needs_enough_shares() -> None:
    shares = dict(enumerate(sharing.split(SMALL, SMALL.zeros((2,)), 2, 6)))

    with pytest.raises(ValueError, match="needs 3 shares"):
        sharing.recombine(SMALL, {0: shares[0], 1: shares[1]}, 2)
