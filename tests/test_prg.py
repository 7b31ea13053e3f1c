"""Keyed generators: reproducible for the key holders, distinct per label."""

import numpy as np
import pytest

from mpc import prg
from mpc.field import SMALL


def test_same_key_and_labels_give_the_same_draw() -> None:
    key = prg.fresh_key()

    first = prg.uniform(SMALL, key, (1000,), "step", 1)
    second = prg.uniform(SMALL, key, (1000,), "step", 1)

    assert np.array_equal(first, second)


def test_different_labels_give_different_draws() -> None:
    key = prg.fresh_key()

    first = prg.uniform(SMALL, key, (1000,), "step", 1)
    second = prg.uniform(SMALL, key, (1000,), "step", 2)

    assert not np.array_equal(first, second)


def test_permutation_is_a_permutation_and_depends_on_the_key() -> None:
    key = prg.fresh_key()

    perm = prg.permutation(key, 10_000, "round", 0)
    other = prg.permutation(prg.fresh_key(), 10_000, "round", 0)

    assert sorted(perm.tolist()) == list(range(10_000))
    assert not np.array_equal(perm, other)


def test_derive_key_refuses_short_keys() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        prg.derive_key(b"short", "label")
