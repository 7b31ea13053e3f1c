"""Table structure and complementary suppression on public patterns."""

import asyncio

import numpy as np
import pytest

from mpc import suppression
from mpc.suppression import COMPLEMENTARY, MIN_CELL_SIZE, RELEASED, TableShape


def _determined(shape: TableShape, suppressed: np.ndarray) -> list[int]:
    """Independent check with floating-point ranks: a suppressed cell is fixed by
    the released cells iff its unit vector lies in the row space of the relations
    restricted to the suppressed cells."""
    hidden = np.flatnonzero(suppressed)
    rows = []
    for total, parts in shape.relations:
        row = np.zeros(shape.size)
        row[total] = 1
        row[list(parts)] = -1
        rows.append(row[hidden])
    if not rows:
        return []
    matrix = np.array(rows)
    rank = np.linalg.matrix_rank(matrix)
    out = []
    for k, cell in enumerate(hidden):
        unit = np.zeros(len(hidden))
        unit[k] = 1
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            out.append(int(cell))
    return out


def _complete(shape: TableShape, values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    async def argmin(candidates):
        chosen = [int(values[i]) for i in candidates]
        return int(candidates[chosen.index(min(chosen))])

    return asyncio.run(suppression.complete(shape, codes, argmin))


def _table(shape: TableShape, rng: np.random.Generator) -> np.ndarray:
    """Random base counts, with totals filled in, flattened cell by column."""
    base = rng.integers(0, 40, size=(shape.base_cells, shape.columns))
    for total, parts in shape.column_sums:
        base[:, total] = base[:, list(parts)].sum(axis=1)
    return (shape.margin_matrix() @ base).reshape(-1)


def test_margin_matrix_adds_base_cells_into_totals() -> None:
    shape = TableShape(levels=(2, 3), totals=(True, True), columns=1)

    matrix = shape.margin_matrix()

    assert matrix.shape == (12, 6)
    assert matrix[-1].tolist() == [1] * 6  # grand total
    assert matrix[3].tolist() == [1, 1, 1, 0, 0, 0]  # first row's total


def test_every_relation_holds_on_a_consistent_table() -> None:
    shape = TableShape(
        levels=(3, 2), totals=(True, True), columns=3, column_sums=((0, (1, 2)),)
    )
    values = _table(shape, np.random.default_rng(1))

    for total, parts in shape.relations:
        assert values[total] == values[list(parts)].sum()


def test_single_suppressed_cell_in_a_line_is_derivable() -> None:
    shape = TableShape(levels=(3,), totals=(True,), columns=1)
    suppressed = np.array([True, False, False, False])

    assert suppression.derivable(shape, suppressed) == [0]


def test_rectangle_of_suppressed_cells_is_not_derivable() -> None:
    shape = TableShape(levels=(2, 2), totals=(True, True), columns=1)
    suppressed = np.zeros(shape.size, dtype=bool)
    suppressed[[0, 1, 3, 4]] = True  # the four interior cells (rows 0-1, cols 0-1)

    assert suppression.derivable(shape, suppressed) == []


@pytest.mark.parametrize("seed", range(40))
def test_complementary_suppression_leaves_nothing_derivable(seed) -> None:
    rng = np.random.default_rng(seed)
    dims = int(rng.integers(1, 4))
    levels = tuple(int(x) for x in rng.integers(2, 5, size=dims))
    totals = tuple(bool(x) for x in rng.integers(0, 2, size=dims))
    columns = int(rng.integers(1, 4))
    sums = (
        ((0, tuple(range(1, columns))),) if columns > 2 and rng.random() < 0.5 else ()
    )
    shape = TableShape(levels, totals, columns, sums)
    values = _table(shape, rng)
    primary = np.where((values >= 1) & (values < 10), MIN_CELL_SIZE, RELEASED)

    codes = _complete(shape, values, primary)

    assert _determined(shape, codes != RELEASED) == []
    assert np.array_equal(codes[primary != RELEASED], primary[primary != RELEASED])
    assert set(np.unique(codes)) <= {RELEASED, MIN_CELL_SIZE, COMPLEMENTARY}


def test_complementary_suppression_picks_the_smallest_candidate() -> None:
    shape = TableShape(levels=(3,), totals=(True,), columns=1)
    values = np.array([4, 50, 20, 74])
    primary = np.array([MIN_CELL_SIZE, RELEASED, RELEASED, RELEASED])

    codes = _complete(shape, values, primary)

    assert codes.tolist() == [MIN_CELL_SIZE, RELEASED, COMPLEMENTARY, RELEASED]


def test_relations_cover_all_lines_of_a_three_way_table() -> None:
    shape = TableShape(levels=(2, 2, 2), totals=(True, True, True), columns=1)

    relations = shape.relations

    # Each dimension with a total gives one relation per combination of the
    # other two dimensions' full levels: 3 * 3 each.
    assert len(relations) == 27
    assert all(len(parts) == 2 for _, parts in relations)
