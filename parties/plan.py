"""Compile a table request into per-partner encodings and an arithmetic circuit.

Every partner whose records a request reads gets a *block* of 0/1 columns,
computed locally from its own records (:mod:`parties.encode`):

* ``present``: the student has a record here (that passes the population filter,
  for a population partner);
* for a population partner, each population column the request reads, one-hot
  over the coarsest classes of values the request distinguishes;
* for each ``exists(P, cond)``: a flag (any record satisfies ``cond``), or, when
  ``cond`` compares with a population column ``o``, one flag per value ``v`` of
  ``o`` (any record satisfies ``cond`` with ``o = v``);
* for a dimension on a partner's column, one-hot over its levels taken from the
  student's representative record.

The circuit (:mod:`mpc.circuit`) takes the sum of a student's rows, which holds
every partner's block, and computes the student's cell indicators and measure
values: population columns are coalesced over the population partners in
priority order (the first non-null value wins), conditions become linear forms
and products of these columns, and the cell of a student is the product of its
dimension levels. Owners evaluate the same circuit on their own rows for
students seen only by them; the MPC evaluates it for linked students.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from mpc import noise
from mpc.aggregate import Layout
from mpc.circuit import Circuit
from mpc.disclosure import DisclosureRules
from mpc.engine import SessionPlan
from parties.dimensions import PARTNER_DIMENSION, Level, filter_allows
from parties.errors import RequestError
from parties.expressions import (
    And,
    ColumnRef,
    Const,
    Exists,
    Expr,
    InSet,
    IsNull,
    Not,
    Or,
    Relation,
    atoms,
    refs_of,
)
from parties.request import Request
from parties.schema import Schema


@dataclass(frozen=True)
class Feature:
    """One 0/1 column of a partner's block.

    ``kind`` is ``present``, ``class`` (population column ``column`` has a value in
    ``values``), ``flag`` (some record satisfies ``cond``), ``window`` (some record
    satisfies ``cond`` when population column ``outer`` equals ``outer_value``) or
    ``level`` (the representative record's ``column`` is in ``values``, or null for
    a ``missing`` level).
    """

    kind: str
    column: str | None = None
    values: frozenset[Any] = frozenset()
    cond: Expr | None = None
    outer: str | None = None
    outer_value: Any = None
    missing: bool = False


@dataclass
class PartnerEncoding:
    """The block a partner computes for each of its students."""

    partner: str
    schema: Schema
    is_population: bool
    offset: int
    features: list[Feature] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.features)


@dataclass
class Plan:
    """A compiled request: encodings per partner and the public session plan."""

    request: Request
    encodings: dict[str, PartnerEncoding]
    session: SessionPlan
    cells: list[tuple[Level, ...]]

    @property
    def block_width(self) -> int:
        return sum(enc.width for enc in self.encodings.values())


def compile_plan(
    request: Request, schemas: dict[str, Schema], *, pad_to_multiple: int = 0
) -> Plan:
    """Compile ``request``; ``schemas`` are the data partners' schemas by name."""
    compiler = _Compiler(request, schemas)
    return compiler.build(pad_to_multiple)


class _Compiler:
    def __init__(self, request: Request, schemas: dict[str, Schema]) -> None:
        self.request = request
        self.schemas = schemas
        self.population = request.population
        self.features: dict[str, list[Feature]] = {
            p: [] for p in request.partners_used()
        }
        self.classes: dict[str, list[frozenset[Any]]] = {}

    # Encodings

    def build(self, pad_to_multiple: int) -> Plan:
        request = self.request
        self._population_classes()

        # Every used partner has a presence column first.
        for partner in self.features:
            self._feature(partner, Feature("present"))
        for partner in self.population.partners:
            for column, classes in self.classes.items():
                for values in classes:
                    self._feature(
                        partner, Feature("class", column=column, values=values)
                    )
        for measure in request.measures:
            for atom in atoms(measure.when):
                if isinstance(atom, Exists):
                    self._exists_features(atom)
        for dim in request.dimensions:
            if dim.ref.partner is not None:
                for level in dim.levels:
                    if level.kind == "absent":
                        continue
                    self._feature(
                        dim.ref.partner,
                        Feature(
                            "level",
                            column=dim.ref.column,
                            values=level.values,
                            missing=level.kind == "missing",
                        ),
                    )

        encodings: dict[str, PartnerEncoding] = {}
        offset = 0
        for partner, features in self.features.items():
            encodings[partner] = PartnerEncoding(
                partner,
                self.schemas[partner],
                partner in self.population.partners,
                offset,
                features,
            )
            offset += len(features)

        circuit = Circuit(width=offset)
        builder = _CircuitBuilder(
            circuit, encodings, self.population.partners, self.classes
        )
        cells = request.cells()
        cell_roots = builder.cells(request)
        measure_roots = [builder.condition(m.when) for m in request.measures]
        circuit.outputs = {"cells": cell_roots, "measures": measure_roots}

        cells_count = len(cells)
        measures_count = len(measure_roots)
        layout = Layout(
            cells_count, measures_count, cells_count + measures_count + offset
        )
        session = SessionPlan(
            request_digest=request.digest,
            layout=layout,
            circuit=circuit,
            cell_roots=cell_roots,
            measure_roots=measure_roots,
            shape=request.shape(),
            rules=disclosure_rules(request),
            pad_to_multiple=pad_to_multiple,
        )
        return Plan(request, encodings, session, cells)

    def _feature(self, partner: str, feature: Feature) -> int:
        features = self.features[partner]
        if feature not in features:
            features.append(feature)
        return features.index(feature)

    def _population_classes(self) -> None:
        """Coarsest partition of each population column's values the request needs."""
        request = self.request
        schema = self.population.schema
        sets: dict[str, list[frozenset[Any]]] = {}
        full: set[str] = set()

        def use(column: str, values: frozenset[Any] | None) -> None:
            sets.setdefault(column, [])
            if values is None:
                full.add(column)
            else:
                sets[column].append(values)

        for dim in request.dimensions:
            if dim.ref.partner is None and dim.kind == "column":
                for level in dim.levels:
                    use(
                        dim.ref.column,
                        level.values if level.kind == "value" else frozenset(),
                    )
        for measure in request.measures:
            for atom in atoms(measure.when):
                self._collect(atom, use)

        for column in sets:
            domain = list(schema.column(column).domain)
            if self.population.where is not None:
                allowed, _ = filter_allows(self.population.where, column)
                if allowed is not None:
                    domain = [v for v in domain if v in allowed]
            if column in full:
                self.classes[column] = [frozenset({v}) for v in domain]
                continue
            signature: dict[tuple[bool, ...], list[Any]] = {}
            for value in domain:
                key = tuple(value in s for s in sets[column])
                signature.setdefault(key, []).append(value)
            self.classes[column] = [frozenset(vs) for vs in signature.values()]

    def _collect(self, atom: Expr, use: Any) -> None:
        if isinstance(atom, InSet) and atom.ref.partner is None:
            use(atom.ref.column, atom.values)
        elif isinstance(atom, IsNull) and atom.ref.partner is None:
            use(atom.ref.column, frozenset())
        elif isinstance(atom, Relation):
            for ref in (atom.left, atom.right):
                if ref.partner is None:
                    use(ref.column, None)
        elif isinstance(atom, Exists) and atom.cond is not None:
            for inner in atoms(atom.cond):
                for ref in refs_of(inner):
                    if ref.partner is None:
                        use(ref.column, None)

    def _exists_features(self, atom: Exists) -> None:
        if atom.cond is None:
            return
        outer = _outer_column(atom)
        if outer is None:
            self._feature(atom.partner, Feature("flag", cond=atom.cond))
            return
        for values in self.classes[outer]:
            (value,) = tuple(values)
            self._feature(
                atom.partner,
                Feature("window", cond=atom.cond, outer=outer, outer_value=value),
            )


def disclosure_rules(request: Request) -> DisclosureRules:
    """The MPC's disclosure rules for a request.

    Noise goes on the base cells; totals are sums of noisy cells, so a student
    changes at most one count per column by one: the L1 sensitivity is the
    number of columns.
    """
    rules = request.disclosure
    epsilon = rules.effective_epsilon()
    alpha = None
    if epsilon is not None:
        alpha = noise.laplace_parameter(epsilon, len(request.columns))
    return DisclosureRules(
        min_cell_size=rules.min_cell_size,
        protect_complements=rules.protect_complements,
        complementary=rules.complementary,
        rounding_base=rules.rounding_base,
        noise_alpha=alpha,
    )


def _outer_column(atom: Exists) -> str | None:
    if atom.cond is None:
        return None
    columns = {
        ref.column
        for inner in atoms(atom.cond)
        for ref in refs_of(inner)
        if ref.partner is None
    }
    if len(columns) > 1:
        raise RequestError(
            f"exists({atom.partner}, ...) compares with several population columns."
        )
    return next(iter(columns), None)


class _CircuitBuilder:
    """Builds circuit nodes for population columns, conditions and cells."""

    def __init__(
        self,
        circuit: Circuit,
        encodings: dict[str, PartnerEncoding],
        population: tuple[str, ...],
        classes: dict[str, list[frozenset[Any]]],
    ) -> None:
        self.circuit = circuit
        self.encodings = encodings
        self.population = population
        self.classes = classes
        self._coalesced: dict[str, list[int]] = {}

    def column(self, partner: str, feature: Feature) -> int:
        enc = self.encodings[partner]
        return self.circuit.input(enc.offset + enc.features.index(feature))

    def present(self, partner: str) -> int:
        return self.column(partner, Feature("present"))

    def in_population(self) -> int:
        return self.circuit.or_([self.present(p) for p in self.population])

    def coalesced(self, column: str) -> list[int]:
        """One node per class of a population column: the first partner with a
        non-null value decides."""
        if column in self._coalesced:
            return self._coalesced[column]
        c = self.circuit
        classes = self.classes[column]
        result = [c.const(0) for _ in classes]
        earlier_null = c.const(1)  # all earlier partners have no value
        for partner in self.population:
            onehot = [
                self.column(partner, Feature("class", column=column, values=v))
                for v in classes
            ]
            result = [
                c.add(r, c.mul(earlier_null, x))
                for r, x in zip(result, onehot, strict=True)
            ]
            has_value = c.add(*onehot) if onehot else c.const(0)
            earlier_null = c.mul(earlier_null, c.not_(has_value))
        self._coalesced[column] = result
        return result

    def in_values(self, column: str, values: frozenset[Any]) -> int:
        nodes = [
            node
            for node, cls in zip(
                self.coalesced(column), self.classes[column], strict=True
            )
            if cls <= values
        ]
        return self.circuit.add(*nodes) if nodes else self.circuit.const(0)

    def not_null(self, column: str) -> int:
        nodes = self.coalesced(column)
        return self.circuit.add(*nodes) if nodes else self.circuit.const(0)

    def condition(self, expr: Expr) -> int:
        c = self.circuit
        if isinstance(expr, Const):
            return c.const(1 if expr.value else 0)
        if isinstance(expr, And):
            return c.and_([self.condition(item) for item in expr.items])
        if isinstance(expr, Or):
            return c.or_([self.condition(item) for item in expr.items])
        if isinstance(expr, Not):
            return c.not_(self.condition(expr.item))
        if isinstance(expr, InSet):
            return self.in_values(expr.ref.column, expr.values)
        if isinstance(expr, IsNull):
            present = self.not_null(expr.ref.column)
            return present if expr.negate else c.not_(present)
        if isinstance(expr, Relation):
            return self.relation(expr)
        if isinstance(expr, Exists):
            return self.exists(expr)
        raise RequestError(f"Cannot compile condition {expr!r}.")

    def relation(self, rel: Relation) -> int:
        """``low <= a - b <= high`` over two population columns, one inner product."""
        c = self.circuit
        left = self.coalesced(rel.left.column)
        right = self.coalesced(rel.right.column)
        left_values = [next(iter(v)) for v in self.classes[rel.left.column]]
        right_values = [next(iter(v)) for v in self.classes[rel.right.column]]
        pairs = []
        for node_a, a in zip(left, left_values, strict=True):
            partners = [
                node_b
                for node_b, b in zip(right, right_values, strict=True)
                if _within(a - b, rel.low, rel.high)
            ]
            if partners:
                pairs.append((node_a, c.add(*partners)))
        return c.dot(pairs) if pairs else c.const(0)

    def exists(self, atom: Exists) -> int:
        c = self.circuit
        if atom.cond is None:
            return self.present(atom.partner)
        outer = _outer_column(atom)
        if outer is None:
            return self.column(atom.partner, Feature("flag", cond=atom.cond))
        pairs = []
        for node, values in zip(
            self.coalesced(outer), self.classes[outer], strict=True
        ):
            (value,) = tuple(values)
            window = self.column(
                atom.partner,
                Feature("window", cond=atom.cond, outer=outer, outer_value=value),
            )
            pairs.append((node, window))
        return c.dot(pairs) if pairs else c.const(0)

    def level(self, dim_ref: ColumnRef, level: Level) -> int:
        c = self.circuit
        if dim_ref.column == PARTNER_DIMENSION:
            # The first population partner (in listed order) with a record.
            (partner,) = tuple(level.values)
            position = self.population.index(partner)
            factors = [self.present(partner)]
            factors += [c.not_(self.present(p)) for p in self.population[:position]]
            return c.and_(factors)
        if dim_ref.partner is None:
            if level.kind == "missing":
                return c.lin(
                    [(1, self.in_population()), (-1, self.not_null(dim_ref.column))]
                )
            return self.in_values(dim_ref.column, level.values)
        if level.kind == "absent":
            return c.not_(self.present(dim_ref.partner))
        feature = Feature(
            "level",
            column=dim_ref.column,
            values=level.values,
            missing=level.kind == "missing",
        )
        return self.column(dim_ref.partner, feature)

    def cells(self, request: Request) -> list[int]:
        """Cell indicators: the population flag times one level per dimension."""
        c = self.circuit
        pop = self.in_population()
        has_population_dim = any(d.ref.partner is None for d in request.dimensions)
        per_dim = [
            [self.level(d.ref, lv) for lv in d.levels] for d in request.dimensions
        ]
        roots = []
        for combo in itertools.product(*per_dim) if per_dim else [()]:
            factors = list(combo)
            if not has_population_dim:
                factors.insert(0, pop)
            roots.append(c.and_(factors) if factors else pop)
        return roots


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
