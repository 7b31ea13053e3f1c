"""Arithmetic circuits over a group's encoded columns.

A circuit maps one vector (the sum of a group's rows) to the group's row-cell
indicators and measure values. It has inputs, constants, linear combinations,
products and inner products (``sum a_i * b_i``, which costs a single degree
reduction however many terms it has). Nodes are shared: asking twice for the
same node returns the same index.

The same circuit is evaluated in the clear by an owner on its own rows
(:meth:`Circuit.evaluate_plain`) and on secret shares by
:func:`mpc.aggregate.evaluate_shared`, level by level: all products whose
inputs are ready are reduced together, so the number of message rounds is the
circuit's multiplicative depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Node = tuple[Any, ...]


@dataclass
class Circuit:
    """A shared-node arithmetic circuit on vectors of ``width`` input columns."""

    width: int
    nodes: list[Node] = field(default_factory=list)
    outputs: dict[str, list[int]] = field(default_factory=dict)
    _index: dict[Node, int] = field(default_factory=dict, repr=False)

    # Construction

    def _add(self, node: Node) -> int:
        found = self._index.get(node)
        if found is not None:
            return found
        self.nodes.append(node)
        self._index[node] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def input(self, column: int) -> int:
        if not 0 <= column < self.width:
            raise ValueError(f"input column {column} outside 0..{self.width - 1}")
        return self._add(("in", column))

    def const(self, value: int) -> int:
        return self._add(("const", int(value)))

    def constant_value(self, node: int) -> int | None:
        entry = self.nodes[node]
        return entry[1] if entry[0] == "const" else None

    def lin(self, terms: Sequence[tuple[int, int]], offset: int = 0) -> int:
        """``sum coef * node + offset``, with constants folded and terms merged."""
        merged: dict[int, int] = {}
        for coef, node in terms:
            value = self.constant_value(node)
            if value is not None:
                offset += coef * value
                continue
            entry = self.nodes[node]
            if entry[0] == "lin":
                for inner_coef, inner_node in entry[1]:
                    merged[inner_node] = merged.get(inner_node, 0) + coef * inner_coef
                offset += coef * entry[2]
                continue
            merged[node] = merged.get(node, 0) + coef
        items = tuple((c, n) for n, c in sorted(merged.items()) if c != 0)
        if not items:
            return self.const(offset)
        if offset == 0 and len(items) == 1 and items[0][0] == 1:
            return items[0][1]
        return self._add(("lin", items, offset))

    def add(self, *nodes: int) -> int:
        return self.lin([(1, n) for n in nodes])

    def mul(self, a: int, b: int) -> int:
        for x, y in ((a, b), (b, a)):
            value = self.constant_value(x)
            if value is not None:
                return self.lin([(value, y)])
        a, b = sorted((a, b))
        return self._add(("mul", a, b))

    def dot(self, pairs: Sequence[tuple[int, int]]) -> int:
        """``sum a * b`` over the pairs, as one product node."""
        linear: list[tuple[int, int]] = []
        products: list[tuple[int, int]] = []
        for a, b in pairs:
            if self.constant_value(a) is not None or self.constant_value(b) is not None:
                linear.append((1, self.mul(a, b)))
            else:
                products.append(tuple(sorted((a, b))))  # type: ignore[arg-type]
        if not products:
            return self.lin(linear)
        node = (
            self._add(("mul", *products[0]))
            if len(products) == 1
            else self._add(("dot", tuple(sorted(products))))
        )
        return self.lin([*linear, (1, node)]) if linear else node

    # Boolean helpers on 0/1 values.

    def not_(self, a: int) -> int:
        return self.lin([(-1, a)], 1)

    def and_(self, items: Sequence[int]) -> int:
        if not items:
            return self.const(1)
        result = items[0]
        for item in items[1:]:
            result = self.mul(result, item)
        return result

    def or_(self, items: Sequence[int]) -> int:
        # a or b = 1 - (1 - a)(1 - b)
        return self.not_(self.and_([self.not_(item) for item in items]))

    # Structure

    def depth(self) -> list[int]:
        """Multiplicative depth of every node."""
        depths: list[int] = []
        for node in self.nodes:
            kind = node[0]
            if kind in ("in", "const"):
                depths.append(0)
            elif kind == "lin":
                depths.append(max(depths[n] for _, n in node[1]))
            elif kind == "mul":
                depths.append(1 + max(depths[node[1]], depths[node[2]]))
            else:
                depths.append(1 + max(max(depths[a], depths[b]) for a, b in node[1]))
        return depths

    def needed(self, roots: Sequence[int]) -> list[bool]:
        """Which nodes the given roots depend on."""
        need = [False] * len(self.nodes)
        stack = list(roots)
        while stack:
            n = stack.pop()
            if need[n]:
                continue
            need[n] = True
            node = self.nodes[n]
            if node[0] == "lin":
                stack.extend(m for _, m in node[1])
            elif node[0] == "mul":
                stack.extend(node[1:3])
            elif node[0] == "dot":
                stack.extend(x for pair in node[1] for x in pair)
        return need

    def product_count(self, roots: Sequence[int]) -> int:
        """Degree reductions needed per evaluated vector."""
        need = self.needed(roots)
        return sum(
            1
            for n, node in enumerate(self.nodes)
            if need[n] and node[0] in ("mul", "dot")
        )

    def describe(self) -> dict[str, Any]:
        """Public summary, part of the plan digest."""
        return {
            "width": self.width,
            "nodes": [list(map(_jsonable, n)) for n in self.nodes],
            "outputs": self.outputs,
        }

    # Evaluation in the clear

    def evaluate_plain(self, rows: np.ndarray, roots: Sequence[int]) -> np.ndarray:
        """Evaluate on integer rows (shape ``(n, width)``); returns ``(n, len(roots))``.

        Used by owners for their own rows and by tests; exact in int64 for the 0/1
        circuits built by the request compiler.
        """
        rows = np.asarray(rows, dtype=np.int64)
        n = rows.shape[0]
        need = self.needed(roots)
        values: dict[int, np.ndarray] = {}
        for index, node in enumerate(self.nodes):
            if not need[index]:
                continue
            kind = node[0]
            if kind == "in":
                values[index] = rows[:, node[1]]
            elif kind == "const":
                values[index] = np.full(n, node[1], dtype=np.int64)
            elif kind == "lin":
                total = np.full(n, node[2], dtype=np.int64)
                for coef, m in node[1]:
                    total = total + coef * values[m]
                values[index] = total
            elif kind == "mul":
                values[index] = values[node[1]] * values[node[2]]
            else:
                total = np.zeros(n, dtype=np.int64)
                for a, b in node[1]:
                    total = total + values[a] * values[b]
                values[index] = total
        if not roots:
            return np.zeros((n, 0), dtype=np.int64)
        return np.stack([values[r] for r in roots], axis=1)


def _jsonable(item: Any) -> Any:
    if isinstance(item, tuple):
        return [_jsonable(x) for x in item]
    return item
