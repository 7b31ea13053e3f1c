"""Disclosure control on the shared table, inside the MPC, with MPyC's secure integers.

Adversary: semi-honest, at most ``t`` of ``m`` parties corrupted, ``t < m/2``.

The table arrives as Shamir shares in GF(2^61 - 1), the same sharing MPyC uses,
so each share becomes an MPyC secure integer without conversion. Comparisons use
MPyC's protocols (statistically hiding masks, security parameter 30 bits), which
is why values are limited to :data:`VALUE_BITS` bits.

Steps, in order:

1. Noise (optional, ``epsilon`` or ``rho``): every party inputs its share of
   discrete Laplace noise for each base cell (:mod:`mpc.noise`); totals are then
   sums of noisy cells, so the L1 sensitivity is the number of columns.
2. Primary suppression: a count from 1 to ``min_cell_size - 1`` is suppressed
   (with noise: any value below ``min_cell_size``). With ``protect_complements``
   (exact counts only), a measure is also suppressed when the students of its
   cell without the measure number 1 to ``min_cell_size - 1``.
3. The suppression pattern is opened to all parties. It is part of the released
   table (which marks every suppressed cell with its rule), so this reveals
   nothing the released table does not.
4. Complementary suppression (:mod:`mpc.suppression`): while a suppressed cell
   can be derived from released cells and the table's totals, suppress the
   smallest released cell of a relation that pins it. The choice is a secure
   argmin whose index is opened; it too is part of the released pattern.
5. Random rounding (optional, base ``b``): each value ``y`` becomes
   ``b * floor((y + U) / b)`` with ``U`` uniform in ``0 .. b-1`` and secret, so it
   rounds up with probability ``(y mod b) / b``: unbiased.
6. Suppressed cells are set to 0 and every released value is re-randomised
   (each party reshares its share) before the shares leave the session.

Cost: two or three comparisons per cell, one argmin per complementary cell, one
modular reduction per cell when rounding; a few dozen message rounds in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc import noise, sharing, suppression
from mpc.context import SessionContext
from mpc.dealing import sum_of_dealings
from mpc.field import SMALL, SMALL_MODULUS
from mpc.suppression import COMPLEMENT, MIN_CELL_SIZE, RELEASED, TableShape

# Counts and noisy counts fit in 29-bit signed integers; with MPyC's 30-bit
# security parameter this is the widest MPyC allows in GF(2^61 - 1).
VALUE_BITS = 29


@dataclass(frozen=True)
class DisclosureRules:
    """The disclosure rules of one request, as the MPC applies them."""

    min_cell_size: int = 10
    protect_complements: bool = True
    complementary: bool = True
    rounding_base: int = 0
    noise_alpha: float | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "min_cell_size": self.min_cell_size,
            "protect_complements": self.protect_complements,
            "complementary": self.complementary,
            "rounding_base": self.rounding_base,
            "noise_alpha": self.noise_alpha,
        }


@dataclass
class Released:
    """This party's shares of the released values and the public rule codes."""

    values: np.ndarray
    rules: np.ndarray


def secure_integers(runtime: Any) -> Any:
    """MPyC's secure integer type over our small field."""
    return runtime.SecInt(VALUE_BITS, p=SMALL_MODULUS)


def to_secure(runtime: Any, shares: np.ndarray) -> Any:
    """Wrap this party's shares (uint64) as an MPyC secure integer array."""
    secint = secure_integers(runtime)
    values = np.asarray(shares, dtype=np.uint64).astype(object)
    return secint.array(secint.field.array(values))


async def from_secure(runtime: Any, array: Any) -> np.ndarray:
    """This party's shares of an MPyC secure array, as uint64."""
    shares = await runtime.gather(array)
    return np.asarray(shares.value, dtype=object).astype(np.uint64)


async def open_public(runtime: Any, array: Any) -> np.ndarray:
    """Open a secure array to every party, as signed int64."""
    output = getattr(runtime, "crp_raw_output", runtime.output)
    opened = await output(array)
    values = np.asarray(
        opened.value if hasattr(opened, "value") else opened, dtype=object
    )
    half = SMALL_MODULUS // 2
    return np.array(
        [
            int(v) - SMALL_MODULUS if int(v) > half else int(v)
            for v in values.reshape(-1)
        ],
        dtype=np.int64,
    ).reshape(values.shape)


async def add_joint_noise(
    ctx: SessionContext, table: np.ndarray, alpha: float, label: str = "noise"
) -> np.ndarray:
    """Add discrete Laplace noise that every party contributes to (Polya split)."""
    honest = ctx.parties - ctx.threshold
    mine = SMALL.from_ints(noise.contribution(table.shape, alpha, honest))
    dealt = sharing.deal(
        SMALL, mine, ctx.party, ctx.threshold, ctx.parties, ctx.pair_keys, label
    )
    everyone = range(ctx.parties)
    total = await sum_of_dealings(
        ctx, SMALL, dealt, everyone, ctx.threshold, table.shape, label
    )
    return SMALL.add(table, total)


async def release(
    ctx: SessionContext,
    table: np.ndarray,
    shape: TableShape,
    rules: DisclosureRules,
) -> Released:
    """Apply the disclosure rules to the full table (cells x columns, with totals)."""
    runtime = ctx.runtime
    secint = secure_integers(runtime)
    values = to_secure(runtime, table)
    noisy = rules.noise_alpha is not None
    minimum = rules.min_cell_size

    # Primary suppression, then the complements of measures.
    if minimum <= 1 and not noisy:
        small = values * 0
    elif noisy:
        small = values < minimum
    else:
        small = (values >= 1) * (values < minimum)
    complement = None
    if rules.protect_complements and not noisy and minimum > 1 and shape.columns > 1:
        students = values[:, 0:1]
        rest = students - values[:, 1:]
        complement = (rest >= 1) * (rest < minimum)

    # The pattern is part of the released table: open it to every party.
    primary = await open_public(runtime, small)
    codes = np.where(primary != 0, MIN_CELL_SIZE, RELEASED).astype(np.int64)
    if complement is not None:
        opened = await open_public(runtime, complement)
        extra = np.zeros_like(codes)
        extra[:, 1:] = opened
        codes = np.where((codes == RELEASED) & (extra != 0), COMPLEMENT, codes)
    ctx.transcript.opened("suppression_pattern", codes.copy())

    # Complementary suppression, choosing the smallest released cell each time.
    flat = np.reshape(values, (-1,))
    if rules.complementary:

        async def argmin(candidates: Sequence[int]) -> int:
            items = [flat[int(i)] for i in candidates]
            index, _ = runtime.argmin(items)
            output = getattr(runtime, "crp_raw_output", runtime.output)
            position = int(await output(index))
            ctx.transcript.opened("suppression_choice", int(candidates[position]))
            return int(candidates[position])

        codes = (await suppression.complete(shape, codes.reshape(-1), argmin)).reshape(
            codes.shape
        )

    # Random rounding of everything (suppressed cells are zeroed below anyway).
    if rules.rounding_base:
        values = await _round(runtime, secint, values, rules.rounding_base)

    keep = (codes == RELEASED).astype(np.int64)
    released = values * keep
    released = runtime._reshare(released)
    return Released(await from_secure(runtime, released), codes)


async def _round(runtime: Any, secint: Any, values: Any, base: int) -> Any:
    """Unbiased random rounding to multiples of ``base``, element by element."""
    flat = np.reshape(values, (-1,))
    count = flat.shape[0]
    rounded = []
    for i in range(count):
        shifted = flat[i] + runtime.random.randrange(secint, base)
        rounded.append(shifted - shifted % base)
    stacked = runtime.np_fromlist(rounded)
    return np.reshape(stacked, values.shape)
