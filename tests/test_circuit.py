"""Arithmetic circuits: construction, folding, depth and plain evaluation."""

import numpy as np

from mpc.circuit import Circuit


def test_boolean_helpers_follow_truth_tables() -> None:
    circuit = Circuit(width=2)
    a, b = circuit.input(0), circuit.input(1)
    roots = [circuit.and_([a, b]), circuit.or_([a, b]), circuit.not_(a)]
    rows = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])

    values = circuit.evaluate_plain(rows, roots)

    assert values[:, 0].tolist() == [0, 0, 0, 1]
    assert values[:, 1].tolist() == [0, 1, 1, 1]
    assert values[:, 2].tolist() == [1, 1, 0, 0]


def test_constants_fold_into_linear_nodes() -> None:
    circuit = Circuit(width=1)
    a = circuit.input(0)

    assert circuit.mul(a, circuit.const(1)) == a
    assert circuit.constant_value(circuit.mul(a, circuit.const(0))) == 0
    assert circuit.not_(circuit.not_(a)) == a


def test_identical_nodes_are_shared() -> None:
    circuit = Circuit(width=2)
    a, b = circuit.input(0), circuit.input(1)

    assert circuit.mul(a, b) == circuit.mul(b, a)
    assert circuit.add(a, b) == circuit.add(b, a)


def test_inner_product_costs_one_level() -> None:
    circuit = Circuit(width=4)
    x = [circuit.input(i) for i in range(4)]
    dot = circuit.dot([(x[0], x[1]), (x[2], x[3])])
    chained = circuit.mul(dot, x[0])

    depths = circuit.depth()

    assert depths[dot] == 1
    assert depths[chained] == 2
    assert circuit.product_count([chained]) == 2


def test_plain_evaluation_of_inner_products() -> None:
    circuit = Circuit(width=4)
    x = [circuit.input(i) for i in range(4)]
    dot = circuit.dot([(x[0], x[1]), (x[2], x[3])])

    values = circuit.evaluate_plain(np.array([[1, 1, 1, 0], [1, 1, 1, 1]]), [dot])

    assert values[:, 0].tolist() == [1, 2]
