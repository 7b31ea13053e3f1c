"""Shamir secret sharing over whole arrays, with pseudorandom compression.

Party ``i`` (0-based) holds the value of the sharing polynomial at ``x = i + 1``,
as in MPyC, so shares made here and shares made by MPyC mix freely.

Compressed dealing. A dealer who shares a value with a degree-t polynomial lets t
*helper* parties draw their shares from a generator keyed by the secret each
shares with the dealer. Those t points and the value fix the polynomial; the
dealer computes every other party's share and sends it. A dealing then costs
``m - t - 1`` messages instead of ``m - 1``, and the helpers' shares are still
uniformly random to anyone without their keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mpc import prg
from mpc.field import Field, lagrange_coefficients


def point(party: int) -> int:
    """The evaluation point of a party's share."""
    return party + 1


def interpolate(
    field: Field, known: Mapping[int, np.ndarray], targets: Sequence[int]
) -> dict[int, np.ndarray]:
    """Evaluate the polynomial through ``known`` (x -> values) at each target x.

    The polynomial has degree ``len(known) - 1``; targets among the known points are
    returned as they are.
    """
    xs = tuple(known)
    out: dict[int, np.ndarray] = {}
    for target in targets:
        if target in known:
            out[target] = known[target]
            continue
        coefficients = lagrange_coefficients(field.modulus, xs, target)
        out[target] = field.lincomb(
            list(zip(coefficients, known.values(), strict=True))
        )
    return out


def recombine(
    field: Field, shares: Mapping[int, np.ndarray], degree: int
) -> np.ndarray:
    """The secret from the shares of ``degree + 1`` or more parties (party -> share)."""
    if len(shares) < degree + 1:
        raise ValueError(
            f"a degree-{degree} sharing needs {degree + 1} shares, got {len(shares)}"
        )
    chosen = sorted(shares)[: degree + 1]
    known = {point(p): shares[p] for p in chosen}
    return interpolate(field, known, [0])[0]


def consistent(field: Field, shares: Mapping[int, np.ndarray], degree: int) -> bool:
    """True when all the shares lie on one polynomial of the given degree."""
    chosen = sorted(shares)[: degree + 1]
    rest = [p for p in sorted(shares) if p not in chosen]
    if not rest:
        return True
    known = {point(p): shares[p] for p in chosen}
    predicted = interpolate(field, known, [point(p) for p in rest])
    return all(
        np.array_equal(np.asarray(predicted[point(p)]), np.asarray(shares[p]))
        for p in rest
    )


def split(
    field: Field,
    secret: np.ndarray,
    degree: int,
    parties: int,
    key: bytes | None = None,
) -> list[np.ndarray]:
    """Shares of ``secret`` for ``parties`` parties with random degree-``degree``
    polynomials (for tests and one-off dealing)."""
    key = key or prg.fresh_key()
    shape = np.shape(secret)
    known = {0: np.asarray(secret)}
    for d in range(degree):
        known[point(parties + d)] = prg.uniform(field, key, shape, "split", d)
    values = interpolate(field, known, [point(p) for p in range(parties)])
    return [values[point(p)] for p in range(parties)]


def helpers(dealer: int, parties: int, count: int) -> tuple[int, ...]:
    """The ``count`` parties after ``dealer`` (cyclically) whose shares are drawn from
    pairwise generators in a compressed dealing."""
    if count >= parties:
        raise ValueError(f"{count} helpers need more than {parties} parties")
    return tuple((dealer + k) % parties for k in range(1, count + 1))


def deal(
    field: Field,
    value: np.ndarray,
    dealer: int,
    degree: int,
    parties: int,
    pair_keys: Mapping[int, bytes],
    label: object,
) -> dict[int, np.ndarray]:
    """Shares of ``value`` for the parties that do not draw theirs (compressed).

    Returns party -> share for the dealer and every non-helper; the helpers get
    theirs from :func:`helper_share`. ``pair_keys[j]`` is the key the dealer shares
    with party ``j``.
    """
    value = np.asarray(value)
    chosen = helpers(dealer, parties, degree)
    known = {0: value}
    for helper in chosen:
        known[point(helper)] = prg.uniform(
            field, pair_keys[helper], value.shape, "deal", dealer, helper, label
        )
    targets = [p for p in range(parties) if p not in chosen]
    values = interpolate(field, known, [point(p) for p in targets])
    return {p: values[point(p)] for p in targets}


def helper_share(
    field: Field,
    dealer: int,
    me: int,
    shape: tuple[int, ...],
    pair_key: bytes,
    label: object,
) -> np.ndarray:
    """A helper's own share in a compressed dealing by ``dealer``."""
    return prg.uniform(field, pair_key, shape, "deal", dealer, me, label)


def deal_random(
    field: Field,
    dealer: int,
    degree: int,
    parties: int,
    pair_keys: Mapping[int, bytes],
    own_key: bytes,
    shape: tuple[int, ...],
    label: object,
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """A uniformly random secret, shared with a degree-``degree`` polynomial.

    Returns the secret (known to the dealer only) and the shares for non-helpers.
    """
    secret = prg.uniform(field, own_key, shape, "random-secret", dealer, label)
    return secret, deal(field, secret, dealer, degree, parties, pair_keys, label)


def zero_sharing(
    field: Field,
    dealer: int,
    degree: int,
    parties: int,
    pair_keys: Mapping[int, bytes],
    shape: tuple[int, ...],
    label: object,
) -> dict[int, np.ndarray]:
    """A random degree-``degree`` sharing of zero (compressed, ``degree`` helpers)."""
    return deal(field, field.zeros(shape), dealer, degree, parties, pair_keys, label)
