"""Joint discrete Laplace noise: the local split and its distribution."""

import numpy as np
import pytest

from mpc import noise


def test_honest_contributions_sum_to_discrete_laplace() -> None:
    rng = np.random.default_rng(3)
    alpha = noise.laplace_parameter(epsilon=1.0, sensitivity=2)
    honest = 4
    samples = 200_000

    total = sum(
        noise.contribution((samples,), alpha, honest, rng) for _ in range(honest)
    )

    for z in range(-6, 7):
        expected = float(noise.laplace_pmf(np.array([z]), alpha)[0])
        observed = float(np.mean(total == z))
        tolerance = 5 * np.sqrt(expected * (1 - expected) / samples)
        assert abs(observed - expected) <= tolerance, (z, observed, expected)
    variance = noise.laplace_variance(alpha)
    assert abs(total.var() - variance) <= 0.05 * variance


def test_one_party_alone_adds_less_than_the_full_noise() -> None:
    rng = np.random.default_rng(4)
    alpha = noise.laplace_parameter(epsilon=0.5, sensitivity=1)

    single = noise.contribution((100_000,), alpha, honest=4, rng=rng)

    assert single.var() == pytest.approx(noise.laplace_variance(alpha) / 4, rel=0.05)


def test_rho_maps_to_epsilon_and_back() -> None:
    epsilon = noise.epsilon_for_rho(0.5)

    assert epsilon == pytest.approx(1.0)
    assert noise.rho_for_epsilon(epsilon) == pytest.approx(0.5)


def test_parameters_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        noise.laplace_parameter(0.0, 3)
