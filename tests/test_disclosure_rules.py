"""The deterministic disclosure rules on many random synthetic datasets.

The MPC applies exactly these rules (the process tests compare it with the
reference cell by cell); here they are checked on many datasets quickly.
"""

import numpy as np
import pytest

from parties.data import load_partner_data
from parties.reference import reference_full_counts, reference_table
from parties.report import CATALOGUE, catalogue_text
from parties.request import parse_request_text
from parties.synth import PARTNER_SCHEMAS, synthetic_schemas, write_synthetic_data


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    schemas = synthetic_schemas()
    by_partner = {name: schemas[kind] for name, kind in PARTNER_SCHEMAS.items()}
    out = []
    for seed in range(12):
        folder = tmp_path_factory.mktemp(f"data{seed}")
        scale = [0.004, 0.01, 0.03][seed % 3]
        files = write_synthetic_data(folder, seed=100 + seed, scale=scale)
        frames = {
            name: load_partner_data(path, by_partner[name]).frame
            for name, path in files.items()
        }
        out.append(frames)
    return by_partner, out


def _determined(request, suppressed: np.ndarray) -> int:
    """Suppressed cells fixed by the released ones (floating-point rank test)."""
    shape = request.shape()
    hidden = np.flatnonzero(suppressed.reshape(-1))
    rows = []
    for total, parts in shape.relations:
        row = np.zeros(shape.size)
        row[total], row[list(parts)] = 1, -1
        rows.append(row[hidden])
    if not rows or hidden.size == 0:
        return 0
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    count = 0
    for k in range(hidden.size):
        unit = np.zeros(hidden.size)
        unit[k] = 1
        count += np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank
    return count


@pytest.mark.parametrize("name", CATALOGUE)
def test_no_released_cell_is_small_or_derivable_on_any_dataset(datasets, name):
    schemas, frame_sets = datasets
    request = parse_request_text(catalogue_text(name), schemas)

    for frames in frame_sets:
        table = reference_table(request, frames, schemas=schemas)
        true = reference_full_counts(request, frames, schemas=schemas)

        released = table.values[~table.suppressed]
        assert not ((released >= 1) & (released < 10)).any()
        assert np.array_equal(released, true[~table.suppressed])
        assert _determined(request, table.suppressed) == 0
        # Complements of measures are protected as well.
        rest = true[:, :1] - true[:, 1:]
        small = (rest >= 1) & (rest < 10)
        assert table.suppressed[:, 1:][small].all()
