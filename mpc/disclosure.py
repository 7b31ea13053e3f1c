"""Disclosure control on the shared table, inside the MPC, with MPyC's secure integers.

Adversary: semi-honest, at most ``t`` of ``m`` parties corrupted, ``t < m/2``.

The table arrives as Shamir shares in GF(2^61 - 1), the same sharing MPyC uses,
so each share becomes an MPyC secure integer without any conversion. Comparisons
use MPyC's protocols (statistically hiding masks, security parameter 30 bits),
which is why counts are limited to :data:`VALUE_BITS` bits.

Primary suppression: a cell with ``1 <= count < min_cell_size`` is replaced by
0 and flagged; its value is never opened to anyone. Cost: two secure comparisons
and two multiplications per cell.

Before they leave the session, the released values and flags are re-randomised
(every party reshares its share) so that the coordinator's shares carry nothing
but the values themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc.context import SessionContext
from mpc.field import SMALL_MODULUS

# Counts and noisy counts fit in 29-bit signed integers; with MPyC's 30-bit
# security parameter this is the widest MPyC allows in GF(2^61 - 1).
VALUE_BITS = 29


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


async def suppress_small(
    ctx: SessionContext, table: np.ndarray, min_cell_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of the released table and of the suppression flags (1 = suppressed)."""
    runtime = ctx.runtime
    counts = to_secure(runtime, table)
    if min_cell_size <= 1:
        flags = counts * 0
    else:
        flags = (counts >= 1) * (counts < min_cell_size)
    released = counts - counts * flags
    released = runtime._reshare(released)
    flags = runtime._reshare(flags)
    return await from_secure(runtime, released), await from_secure(runtime, flags)
