"""Disclosure control inside real multi-process sessions.

Rounding and noise are random, so they are checked statistically on many
values opened in one session of three parties (``tests/mpc_harness.py``);
suppression is checked on whole sessions against the plaintext reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from federations import local_federation, reference_inputs

from mpc import noise
from parties.local import free_ports, run_local
from parties.reference import reference_full_counts

pytestmark = pytest.mark.processes

HARNESS = Path(__file__).parent / "mpc_harness.py"


def _harness(tmp_path: Path, parties: int, **scenario) -> list[int]:
    ports = free_ports(parties)
    addresses = [["127.0.0.1", port] for port in ports]
    procs = []
    for party in range(parties):
        spec = dict(
            scenario,
            party=party,
            addresses=addresses,
            output=str(tmp_path / f"out-{party}.json"),
        )
        path = tmp_path / f"spec-{party}.json"
        path.write_text(json.dumps(spec))
        procs.append(
            subprocess.Popen(
                [sys.executable, str(HARNESS), str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    for party, proc in enumerate(procs):
        assert proc.returncode == 0, f"party {party} failed:\n" + "\n".join(outputs)
    results = [
        json.loads((tmp_path / f"out-{p}.json").read_text()) for p in range(parties)
    ]
    assert all(r == results[0] for r in results)
    return results[0]


def test_random_rounding_is_unbiased(tmp_path):
    value, base, count = 12, 5, 1500

    rounded = np.array(
        _harness(tmp_path, 3, scenario="round", value=value, base=base, count=count)
    )

    assert set(rounded.tolist()) <= {10, 15}
    # Rounds up with probability (12 mod 5) / 5 = 0.4: the mean is 12.
    spread = base * np.sqrt(0.4 * 0.6 / count)
    assert abs(rounded.mean() - value) <= 5 * spread


def test_joint_noise_has_the_stated_distribution(tmp_path):
    alpha = noise.laplace_parameter(epsilon=1.0, sensitivity=1)
    parties, threshold, count = 3, 1, 6000

    values = np.array(
        _harness(tmp_path, parties, scenario="noise", alpha=alpha, count=count)
    )

    # Any two honest parties' contributions give one discrete Laplace variable;
    # all three give a Polya(3/2) difference, with 3/2 times the variance.
    honest = parties - threshold
    expected_variance = parties / honest * noise.laplace_variance(alpha)
    assert abs(values.var() - expected_variance) <= 0.12 * expected_variance
    assert abs(values.mean()) <= 5 * np.sqrt(expected_variance / count)
    # Compare the pmf near zero with the exact law of the sum, by simulation.
    rng = np.random.default_rng(9)
    law = sum(
        noise.contribution((400_000,), alpha, honest, rng) for _ in range(parties)
    )
    for z in range(-3, 4):
        expected = float(np.mean(law == z))
        observed = float(np.mean(values == z))
        assert abs(observed - expected) <= 5 * np.sqrt(
            expected * (1 - expected) / count
        )


TABLE = """
name = "protected"
[population]
partners = ["board_a", "board_b"]
where = "grade9_year >= 2014"
[[rows]]
column = "grade9_year"
total = true
[[rows]]
column = "math_stream"
total = true
[[measures]]
name = "ossd"
when = "ossd_year != null"
[[measures]]
name = "college"
when = "exists(college)"
[[measures]]
name = "ossd_college"
when = "ossd and college"
[[measures]]
name = "ossd_no_college"
when = "ossd and not college"
[disclosure]
min_cell_size = 10
column_sums = [["ossd", "ossd_college", "ossd_no_college"]]
"""


@pytest.mark.parametrize("seed", [21, 22])
def test_protected_table_matches_reference_and_hides_small_cells(tmp_path, seed):
    federation, data = local_federation(
        tmp_path, ("board_a", "board_b", "college"), seed=seed, scale=0.01
    )

    run = run_local(federation, data, TABLE, tmp_path / "session")

    request, frames, schemas = reference_inputs(federation, data, TABLE)
    from parties.reference import reference_table

    expected = reference_table(request, frames, schemas=schemas)
    assert run.table.same_release(expected)
    released = run.table.values[~run.table.suppressed]
    assert not ((released >= 1) & (released < 10)).any()
    assert run.table.suppressed.any()
    assert "complementary" in run.table.reasons or "complement" in run.table.reasons


def test_rounded_and_noisy_tables_keep_small_cells_hidden(tmp_path):
    federation, data = local_federation(
        tmp_path, ("board_a", "board_b", "college"), seed=23, scale=0.01
    )
    rounded_text = TABLE.replace(
        "min_cell_size = 10", "min_cell_size = 10\nrounding_base = 5"
    )
    noisy_text = TABLE.replace(
        "min_cell_size = 10", "min_cell_size = 10\nepsilon = 2.0"
    )

    rounded = run_local(federation, data, rounded_text, tmp_path / "rounded")
    noisy = run_local(federation, data, noisy_text, tmp_path / "noisy")

    request, frames, schemas = reference_inputs(federation, data, rounded_text)
    true = reference_full_counts(request, frames, schemas=schemas)
    shown = ~rounded.table.suppressed
    assert (rounded.table.values[shown] % 5 == 0).all()
    assert (np.abs(rounded.table.values[shown] - true[shown]) < 5).all()
    for table in (rounded.table, noisy.table):
        released = table.values[~table.suppressed]
        assert not ((released >= 1) & (released < 10)).any()
    assert noisy.table.disclosure["noise_scale"] == pytest.approx(5 / 2.0)
