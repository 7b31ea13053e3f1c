"""Pseudonyms of secret-shared keys: a PRF evaluated inside MPC, opened in a group.

Adversary: semi-honest, at most ``t`` of ``m`` parties corrupted, ``t < m/2``.

Each shuffled row carries a Shamir-shared key ``x`` (the student number) in
GF(q), q the order of the ristretto255 group with generator ``g``. Its pseudonym
is the Dodis-Yampolskiy PRF ``g^(1/(x + k))`` under a key ``k`` that nobody knows
and that is thrown away after the session (Dodis and Yampolskiy, "A verifiable
random function with short proofs and keys", PKC 2005). Equal keys give equal
pseudonyms; without ``k`` a pseudonym says nothing about its key.

Steps:

1. Random sharings (compressed dealings by ``t + 1`` parties each): the key
   ``[k]``, one ``[r]`` per row, and per row a degree-``2t`` sharing ``[z]`` of 0.
2. Each party computes ``h = (x + k) r + z`` locally, a degree-``2t`` sharing of
   ``c = (x + k) r``.
3. The rows are split into ``m`` chunks; party ``j`` is the *king* of chunk ``j``.
   ``2t + 1`` parties send their shares of ``h`` to the king, who opens ``c``
   (uniformly random, since ``r`` is) and sends ``1 / c`` to ``t`` parties.
4. These ``t + 1`` parties ``e`` hold shares ``y_e = r_e / c`` of ``1 / (x + k)``;
   each sends the point ``g^(l_e y_e)`` (``l_e`` its Lagrange coefficient) to the
   king, who adds them up: ``g^(sum l_e y_e) = g^(1/(x + k))``.
5. Each king sends its chunk's pseudonyms to everyone.

Cost per row: ``t + 1`` base-point multiplications and ``t`` point additions,
spread evenly over the parties; about ``(m - t - 1)(2t + 2) + 4t + m`` field
elements or points of 32 bytes sent in all; 6 message rounds.

Revealed: to king ``j``, the uniformly random ``c`` of its rows and the uniformly
random exponent shares; to everyone, the pseudonym of every shuffled row, hence
which shuffled rows share a key (the multiplicity histogram of the keys), and
nothing about which party or which original row a shuffled row came from.
"""

from __future__ import annotations

import numpy as np
import rbcl

from mpc import sharing
from mpc.context import SessionContext
from mpc.dealing import sum_of_dealings
from mpc.field import GROUP, GROUP_ORDER, batch_inverse, lagrange_coefficients

POINT_BYTES = 32


def chunks(rows: int, parties: int) -> list[slice]:
    """The contiguous row ranges of the kings, party 0 first."""
    bounds = np.linspace(0, rows, parties + 1).round().astype(np.int64)
    return [slice(int(bounds[j]), int(bounds[j + 1])) for j in range(parties)]


def window(start: int, size: int, parties: int) -> tuple[int, ...]:
    """``size`` consecutive parties from ``start``, cyclically."""
    return tuple((start + k) % parties for k in range(size))


async def pseudonyms(
    ctx: SessionContext, keys: np.ndarray, label: str = "prf"
) -> np.ndarray:
    """Pseudonyms (an ``(n, 32)`` uint8 array) of rows with the given key shares."""
    me, t, m = ctx.party, ctx.threshold, ctx.parties
    rows = int(keys.shape[0])

    # Step 1: the PRF key, the per-row masks and the zero sharings.
    key_share = await _random_sharing(ctx, (1,), window(0, t + 1, m), t, (label, "k"))
    masks = await _random_sharing(
        ctx, (rows,), window(m - t - 1, t + 1, m), t, (label, "r")
    )
    zeros = await _zero_sharing(ctx, rows, window(1, t + 1, m), 2 * t, (label, "z"))

    # Step 2: local product, degree 2t.
    masked = GROUP.add(GROUP.mul(GROUP.add(keys, key_share[0]), masks), zeros)

    # Step 3: the kings open c = (x + k) r and hand out 1/c.
    parts = chunks(rows, m)
    senders_to = {j: window(j, 2 * t + 1, m) for j in range(m)}
    outgoing = {
        j: masked[parts[j]] for j in range(m) if j != me and me in senders_to[j]
    }
    incoming = [p for p in senders_to[me] if p != me]
    largest = max(part.stop - part.start for part in parts)
    got = await ctx.messenger.exchange(GROUP, outgoing, incoming, rows=largest)
    got[me] = masked[parts[me]]
    opened = sharing.recombine(GROUP, got, 2 * t)
    ctx.transcript.opened("masked_key", opened)
    inverses = batch_inverse(opened, GROUP_ORDER)
    ctx.transcript.opened("masked_key_inverse", inverses)

    exponent_sets = {j: window(j, t + 1, m) for j in range(m)}
    outgoing = {e: inverses for e in exponent_sets[me] if e != me}
    incoming = [j for j in range(m) if j != me and me in exponent_sets[j]]
    got_inverses = await ctx.messenger.exchange(GROUP, outgoing, incoming, rows=largest)
    got_inverses[me] = inverses

    # Step 4: exponent shares g^(l_e y_e) of the rows of every king we help.
    point_messages: dict[int, bytes] = {}
    own_points: list[bytes] = []
    for j in range(m):
        if me not in exponent_sets[j]:
            continue
        xs = tuple(sharing.point(e) for e in exponent_sets[j])
        weight = lagrange_coefficients(GROUP_ORDER, xs, 0)[exponent_sets[j].index(me)]
        exponents = GROUP.scale(GROUP.mul(masks[parts[j]], got_inverses[j]), weight)
        points = _base_points(exponents)
        if j == me:
            own_points = points
        else:
            point_messages[j] = b"".join(points)
    incoming = [e for e in exponent_sets[me] if e != me]
    received = await ctx.messenger.exchange_bytes(point_messages, incoming)
    for payload in received.values():
        ctx.transcript.opened("pseudonym_share", payload)

    # The king adds the t + 1 shares of each of its rows.
    mine = list(own_points)
    for payload in received.values():
        for i in range(len(mine)):
            share = payload[POINT_BYTES * i : POINT_BYTES * (i + 1)]
            mine[i] = rbcl.crypto_core_ristretto255_add(mine[i], share)

    # Step 5: everybody learns all pseudonyms.
    published = b"".join(mine)
    received = await ctx.messenger.exchange_bytes(
        {p: published for p in ctx.others()}, ctx.others()
    )
    received[me] = published
    result = np.frombuffer(
        b"".join(received[j] for j in range(m)), dtype=np.uint8
    ).reshape(rows, POINT_BYTES)
    ctx.transcript.opened("pseudonyms", result)
    return result


def _base_points(exponents: np.ndarray) -> list[bytes]:
    scalar_mult = rbcl.crypto_scalarmult_ristretto255_base_allow_scalar_zero
    return [scalar_mult(int(e).to_bytes(32, "little")) for e in exponents]


async def _random_sharing(
    ctx: SessionContext,
    shape: tuple[int, ...],
    dealers: tuple[int, ...],
    degree: int,
    label: object,
) -> np.ndarray:
    """Shares of a uniformly random value: the sum of the dealers' random secrets."""
    dealt = None
    if ctx.party in dealers:
        _, dealt = sharing.deal_random(
            GROUP,
            ctx.party,
            degree,
            ctx.parties,
            ctx.pair_keys,
            ctx.own_key,
            shape,
            label,
        )
    return await sum_of_dealings(ctx, GROUP, dealt, dealers, degree, shape, label)


async def _zero_sharing(
    ctx: SessionContext, rows: int, dealers: tuple[int, ...], degree: int, label: object
) -> np.ndarray:
    """Shares of zero with a uniformly random polynomial of the given degree."""
    dealt = None
    if ctx.party in dealers:
        dealt = sharing.zero_sharing(
            GROUP, ctx.party, degree, ctx.parties, ctx.pair_keys, (rows,), label
        )
    return await sum_of_dealings(ctx, GROUP, dealt, dealers, degree, (rows,), label)
