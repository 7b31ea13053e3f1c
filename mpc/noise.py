"""Differential-privacy noise that the parties generate jointly.

The released counts get discrete Laplace noise: ``P(Z = z)`` proportional to
``alpha^|z|`` with ``alpha = exp(-epsilon / sensitivity)``, the geometric
mechanism, which is ``epsilon``-differentially private for counts of L1
sensitivity ``sensitivity`` (Ghosh, Roughgarden and Sundararajan, STOC 2009).

Nobody may know the noise, and a coalition of up to ``t`` parties that subtracts
its own contributions must still leave the full noise. The geometric
distribution is infinitely divisible: a geometric variable is the sum of ``h``
independent Polya (negative binomial with shape ``1/h``) variables. So each party
adds ``Polya(1/h) - Polya(1/h)`` with ``h = m - t``: any ``h`` honest parties'
contributions sum to exactly one discrete Laplace variable, and the others only
add more independent noise, which cannot hurt privacy. The total variance is
``m / h`` times that of a single discrete Laplace variable.

Zero-concentrated DP with parameter ``rho`` uses the same mechanism with
``epsilon = sqrt(2 rho)``: ``epsilon``-DP implies ``epsilon^2/2``-zCDP (Bun and
Steinke, TCC 2016, Proposition 1.4). A discrete Gaussian would need about half
the variance, but sums of discrete Gaussians are not discrete Gaussian, so the
exact split above would be lost.

Each party draws its contribution locally from numpy's PCG64 generator, seeded
with 128 bits from the operating system for every session; its outputs are never
seen, only their sum with everyone else's inside the MPC. The negative binomial
sampler works in floating point (gamma-Poisson mixture), which approximates the
exact distribution to within floating-point error.
"""

from __future__ import annotations

import math
import secrets

import numpy as np


def laplace_parameter(epsilon: float, sensitivity: int) -> float:
    """``alpha = exp(-epsilon / sensitivity)`` of the discrete Laplace noise."""
    if epsilon <= 0 or sensitivity <= 0:
        raise ValueError("epsilon and sensitivity must be positive")
    return math.exp(-epsilon / sensitivity)


def epsilon_for_rho(rho: float) -> float:
    """The epsilon whose pure DP implies ``rho``-zCDP."""
    if rho <= 0:
        raise ValueError("rho must be positive")
    return math.sqrt(2.0 * rho)


def rho_for_epsilon(epsilon: float) -> float:
    """The zCDP cost of an ``epsilon``-DP release (used by privacy budgets)."""
    return epsilon * epsilon / 2.0


def laplace_variance(alpha: float) -> float:
    """Variance of one discrete Laplace variable with parameter ``alpha``."""
    return 2.0 * alpha / (1.0 - alpha) ** 2


def laplace_pmf(values: np.ndarray, alpha: float) -> np.ndarray:
    """Probability of each integer under discrete Laplace noise."""
    values = np.asarray(values)
    return (1.0 - alpha) / (1.0 + alpha) * alpha ** np.abs(values)


def contribution(
    shape: tuple[int, ...],
    alpha: float,
    honest: int,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """One party's share of the noise: ``Polya(1/h) - Polya(1/h)`` per cell."""
    if honest < 1:
        raise ValueError("at least one honest party is needed")
    rng = rng or np.random.Generator(np.random.PCG64(secrets.randbits(128)))
    if alpha <= 0.0:
        return np.zeros(shape, dtype=np.int64)
    shape_parameter = 1.0 / honest
    success = 1.0 - alpha
    up = rng.negative_binomial(shape_parameter, success, size=shape)
    down = rng.negative_binomial(shape_parameter, success, size=shape)
    return (up - down).astype(np.int64)
