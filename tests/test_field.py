"""Field arithmetic agrees with Python's integers."""

import numpy as np
import pytest

from mpc.field import (
    GROUP,
    GROUP_ORDER,
    SMALL,
    SMALL_MODULUS,
    batch_inverse,
    lagrange_coefficients,
)


def _random_small(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, SMALL_MODULUS, size=shape, dtype=np.uint64)


def test_small_field_products_match_python_integers() -> None:
    rng = np.random.default_rng(1)
    a = _random_small(rng, (50_000,))
    b = _random_small(rng, (50_000,))
    edge = np.array([0, 1, SMALL_MODULUS - 1, SMALL_MODULUS - 2], dtype=np.uint64)
    a[:4], b[:4] = edge, edge[::-1]

    product = SMALL.mul(a, b)

    expected = [(int(x) * int(y)) % SMALL_MODULUS for x, y in zip(a, b, strict=True)]
    assert product.tolist() == expected


def test_small_field_sums_differences_and_negation_wrap_correctly() -> None:
    rng = np.random.default_rng(2)
    a = _random_small(rng, (10_000,))
    b = _random_small(rng, (10_000,))

    total, diff, neg = SMALL.add(a, b), SMALL.sub(a, b), SMALL.neg(a)

    assert total.tolist() == [
        (int(x) + int(y)) % SMALL_MODULUS for x, y in zip(a, b, strict=False)
    ]
    assert diff.tolist() == [
        (int(x) - int(y)) % SMALL_MODULUS for x, y in zip(a, b, strict=False)
    ]
    assert neg.tolist() == [(-int(x)) % SMALL_MODULUS for x in a]


def test_scaling_by_negative_constants_reduces_mod_p() -> None:
    a = np.array([0, 1, 5, SMALL_MODULUS - 1], dtype=np.uint64)

    scaled = SMALL.scale(a, -3)

    assert scaled.tolist() == [(-3 * int(x)) % SMALL_MODULUS for x in a]


def test_transposed_matrix_product_is_exact_for_full_size_entries() -> None:
    rng = np.random.default_rng(3)
    a = _random_small(rng, (300, 4))
    b = _random_small(rng, (300, 3))

    product = SMALL.dot_t(a, b)

    for i in range(4):
        for j in range(3):
            expected = sum(int(a[r, i]) * int(b[r, j]) for r in range(300))
            assert int(product[i, j]) == expected % SMALL_MODULUS


def test_signed_view_maps_upper_half_to_negatives() -> None:
    values = SMALL.from_ints(np.array([-5, 0, 7], dtype=np.int64))

    assert SMALL.to_signed(values).tolist() == [-5, 0, 7]


@pytest.mark.parametrize("field", [SMALL, GROUP])
def test_wire_format_round_trips(field) -> None:
    values = field.from_ints(np.array([0, 1, 2, 12345678901], dtype=object))

    back = field.from_bytes(field.to_bytes(values), values.shape)

    assert [int(v) for v in back] == [int(v) for v in values]


def test_wire_format_rejects_values_outside_the_small_field() -> None:
    data = np.array([SMALL_MODULUS], dtype="<u8").tobytes()

    with pytest.raises(ValueError, match="outside"):
        SMALL.from_bytes(data, (1,))


def test_random_bytes_give_elements_below_the_modulus() -> None:
    data = bytes(range(256)) * 64

    small = SMALL.from_random_bytes(data, (len(data) // 8,))
    group = GROUP.from_random_bytes(data, (len(data) // 32,))

    assert int(small.max()) < SMALL_MODULUS
    assert max(int(v) for v in group) < GROUP_ORDER


def test_batch_inverse_inverts_every_value() -> None:
    values = np.array([1, 2, 3, GROUP_ORDER - 1, 123456789], dtype=object)

    inverses = batch_inverse(values, GROUP_ORDER)

    assert all(
        int(v) * int(w) % GROUP_ORDER == 1
        for v, w in zip(values, inverses, strict=False)
    )


def test_batch_inverse_refuses_zero() -> None:
    with pytest.raises(ZeroDivisionError):
        batch_inverse(np.array([3, 0], dtype=object), GROUP_ORDER)


def test_lagrange_coefficients_interpolate_a_quadratic() -> None:
    def poly(x: int) -> int:
        return (7 + 3 * x + 5 * x * x) % SMALL_MODULUS

    coefficients = lagrange_coefficients(SMALL_MODULUS, (1, 2, 3), 0)

    assert (
        sum(c * poly(x) for c, x in zip(coefficients, (1, 2, 3), strict=False))
        % SMALL_MODULUS
        == 7
    )
