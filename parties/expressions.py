"""The small condition language of table requests.

Conditions are written in Python syntax and parsed with :mod:`ast`, but nothing is
ever evaluated by Python: the tree is checked against the partners' public schemas
and turned into the normalised atoms below, which both the plaintext reference and
the MPC compiler understand.

Grammar, informally::

    cond     := cond "and" cond | cond "or" cond | "not" cond | "(" cond ")"
              | compare | "exists(" PARTNER ["," cond] ")" | MEASURE | "true" | "false"
    compare  := side OP side [OP side ...]        (chained, like 2015 <= x <= 2019)
    OP       := == != < <= > >= in | not in
    side     := COLUMN | COLUMN "+" INT | COLUMN "-" INT | COLUMN "-" COLUMN
              | INT | "string" | true | false | null | [constants]

Names: outside ``exists``, a bare name is a population column (or an earlier
measure); ``population.NAME`` says so explicitly. Inside ``exists(P, ...)``, a
bare name is a column of partner ``P`` if ``P`` declares it, else a population
column.

Semantics: any comparison that involves a null value is false; ``x == null`` and
``x != null`` test for nulls. After that the logic is ordinary two-valued logic.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from parties.errors import RequestError
from parties.schema import Column, Schema

POPULATION = "population"


@dataclass(frozen=True)
class ColumnRef:
    """A column of the population (``partner is None``) or of a linked partner."""

    partner: str | None
    column: str

    def __str__(self) -> str:
        return f"{self.partner or POPULATION}.{self.column}"


@dataclass(frozen=True)
class InSet:
    """True when the column is not null and its value is one of ``values``."""

    ref: ColumnRef
    values: frozenset[Any]


@dataclass(frozen=True)
class IsNull:
    """True when the column is null (or, with ``negate``, when it is not)."""

    ref: ColumnRef
    negate: bool = False


@dataclass(frozen=True)
class Relation:
    """True when both integer columns are set and ``low <= left - right <= high``.

    A missing bound is unbounded on that side.
    """

    left: ColumnRef
    right: ColumnRef
    low: int | None
    high: int | None


@dataclass(frozen=True)
class Exists:
    """True when the student has a record at ``partner`` that satisfies ``cond``."""

    partner: str
    cond: Expr | None


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


@dataclass(frozen=True)
class Const:
    value: bool


Expr = InSet | IsNull | Relation | Exists | And | Or | Not | Const


@dataclass(frozen=True)
class Scope:
    """What names mean where a condition is written.

    ``population`` is the population schema (or None in a filter that has no
    population), ``row_partner`` and ``row_schema`` the partner whose rows a
    condition is evaluated on (inside ``exists``, or in the population filter).
    """

    schemas: dict[str, Schema]
    population: Schema | None
    measures: dict[str, Expr]
    row_partner: str | None = None
    row_schema: Schema | None = None
    allow_exists: bool = True


@dataclass(frozen=True)
class _Side:
    """One side of a comparison: constants, or ``coef * column + offset``."""

    ref: ColumnRef | None = None
    column: Column | None = None
    minus_ref: ColumnRef | None = None
    minus_column: Column | None = None
    offset: int = 0
    constant: Any = None
    constants: tuple[Any, ...] | None = None
    is_null: bool = False


def parse_condition(text: str, scope: Scope, *, where: str) -> Expr:
    """Parse one condition string into a normalised expression.

    ``where`` names the place in the request (for instance ``measure 'ossd'``) so
    that errors point at it.
    """
    if not isinstance(text, str) or not text.strip():
        raise RequestError(f"{where}: the condition must be a non-empty string.")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise RequestError(
            f"{where}: cannot parse condition {text!r} ({exc.msg}); write it like "
            "'ossd_year != null and 2015 <= grade9_year <= 2019'."
        ) from None
    return _Parser(scope, where, text).expr(tree.body)


class _Parser:
    def __init__(self, scope: Scope, where: str, text: str) -> None:
        self.scope = scope
        self.where = where
        self.text = text

    def fail(self, message: str) -> RequestError:
        return RequestError(f"{self.where}: {message} (in condition {self.text!r}).")

    # Boolean structure

    def expr(self, node: ast.expr) -> Expr:
        if isinstance(node, ast.BoolOp):
            items = tuple(self.expr(value) for value in node.values)
            return And(items) if isinstance(node.op, ast.And) else Or(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Not(self.expr(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.exists(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return Const(node.value)
        if isinstance(node, ast.Name):
            if node.id in ("true", "false"):
                return Const(node.id == "true")
            if node.id in self.scope.measures:
                if self.scope.row_partner is not None:
                    raise self.fail(
                        f"measure {node.id!r} cannot be used inside exists() or a "
                        "filter"
                    )
                return self.scope.measures[node.id]
            ref, column = self.column(node)
            if column.kind == "boolean":
                return InSet(ref, frozenset({True}))
            raise self.fail(
                f"{node.id!r} is a {column.kind} column, not a condition; compare it, "
                f"for example '{node.id} != null'"
            )
        raise self.fail(f"unsupported expression {ast.unparse(node)!r}")

    def exists(self, node: ast.Call) -> Expr:
        if not (isinstance(node.func, ast.Name) and node.func.id == "exists"):
            raise self.fail(
                f"unknown function {ast.unparse(node.func)!r}; only exists()"
            )
        if not self.scope.allow_exists or self.scope.row_partner is not None:
            raise self.fail("exists() cannot be used here (no nesting, not in filters)")
        if node.keywords or not 1 <= len(node.args) <= 2:
            raise self.fail("exists() takes a partner name and an optional condition")
        target = node.args[0]
        if not isinstance(target, ast.Name):
            raise self.fail("the first argument of exists() must be a partner name")
        partner = target.id
        schema = self.scope.schemas.get(partner)
        if schema is None:
            known = ", ".join(sorted(self.scope.schemas))
            raise self.fail(
                f"exists() names partner {partner!r}, which holds no records in this "
                f"federation; partners with records are: {known}"
            )
        if len(node.args) == 1:
            return Exists(partner, None)
        inner_scope = Scope(
            schemas=self.scope.schemas,
            population=self.scope.population,
            measures={},
            row_partner=partner,
            row_schema=schema,
            allow_exists=False,
        )
        inner = _Parser(inner_scope, self.where, self.text)
        cond = inner.expr(node.args[1])
        _check_outer_columns(cond, partner, self.fail)
        return Exists(partner, cond)

    # Names

    def column(self, node: ast.expr) -> tuple[ColumnRef, Column]:
        """Resolve a Name or Attribute node to a column reference."""
        scope = self.scope
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, name = node.value.id, node.attr
            if owner == POPULATION:
                return self.population_column(name)
            if owner == scope.row_partner and scope.row_schema is not None:
                return ColumnRef(owner, name), scope.row_schema.column(
                    name, where=self.where
                )
            raise self.fail(
                f"'{owner}.{name}' can only be used inside exists({owner}, ...)"
            )
        if isinstance(node, ast.Name):
            name = node.id
            if scope.row_schema is not None and name in scope.row_schema.columns:
                return ColumnRef(scope.row_partner, name), scope.row_schema.columns[
                    name
                ]
            return self.population_column(name)
        raise self.fail(f"expected a column name, found {ast.unparse(node)!r}")

    def population_column(self, name: str) -> tuple[ColumnRef, Column]:
        population = self.scope.population
        if population is None or name not in population.columns:
            known: set[str] = set()
            if population is not None:
                known |= set(population.columns)
            if self.scope.row_schema is not None:
                known |= set(self.scope.row_schema.columns)
            listing = ", ".join(sorted(known)) or "(none)"
            raise self.fail(f"unknown column {name!r}; known columns: {listing}")
        return ColumnRef(None, name), population.columns[name]

    # Comparisons

    def side(self, node: ast.expr) -> _Side:
        if isinstance(node, ast.Constant):
            if node.value is None:
                return _Side(is_null=True)
            return _Side(constant=node.value)
        if isinstance(node, ast.Name) and node.id in ("null", "true", "false"):
            if node.id == "null":
                return _Side(is_null=True)
            return _Side(constant=node.id == "true")
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            values = []
            for item in node.elts:
                side = self.side(item)
                if side.constant is None:
                    raise self.fail("a list after 'in' may hold only constants")
                values.append(side.constant)
            return _Side(constants=tuple(values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.side(node.operand)
            if isinstance(inner.constant, int) and not isinstance(inner.constant, bool):
                return _Side(constant=-inner.constant)
            raise self.fail("only whole numbers can be negated")
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            return self.arithmetic(node)
        ref, column = self.column(node)
        return _Side(ref=ref, column=column)

    def arithmetic(self, node: ast.BinOp) -> _Side:
        left = self.side(node.left)
        right = self.side(node.right)
        sign = 1 if isinstance(node.op, ast.Add) else -1

        # column (- column) +/- number
        if left.ref is not None and _is_int(right.constant):
            self.require_integer(left)
            return _Side(
                ref=left.ref,
                column=left.column,
                minus_ref=left.minus_ref,
                minus_column=left.minus_column,
                offset=left.offset + sign * right.constant,
            )

        # number + column
        if sign == 1 and _is_int(left.constant) and right.ref is not None:
            self.require_integer(right)
            return _Side(
                ref=right.ref,
                column=right.column,
                minus_ref=right.minus_ref,
                minus_column=right.minus_column,
                offset=right.offset + left.constant,
            )

        # column - column
        if (
            sign == -1
            and left.ref is not None
            and left.minus_ref is None
            and right.ref is not None
            and right.minus_ref is None
        ):
            self.require_integer(left)
            self.require_integer(right)
            return _Side(
                ref=left.ref,
                column=left.column,
                minus_ref=right.ref,
                minus_column=right.column,
                offset=left.offset - right.offset,
            )

        raise self.fail(
            f"unsupported arithmetic {ast.unparse(node)!r}; use 'column - column', "
            "'column + number' or 'column - number'"
        )

    def require_integer(self, side: _Side) -> None:
        if side.column is None or side.column.kind != "integer":
            raise self.fail(
                "only integer columns can take part in arithmetic or be compared "
                f"with another column; {side.ref} is not one"
            )

    def compare(self, node: ast.Compare) -> Expr:
        sides = [self.side(node.left)] + [self.side(item) for item in node.comparators]
        atoms = [self.atom(sides[i], op, sides[i + 1]) for i, op in enumerate(node.ops)]
        return atoms[0] if len(atoms) == 1 else And(tuple(atoms))

    def atom(self, left: _Side, op: ast.cmpop, right: _Side) -> Expr:
        symbol = _OPS.get(type(op))
        if symbol is None:
            raise self.fail(f"unsupported comparison {type(op).__name__}")

        # Null tests.
        if left.is_null or right.is_null:
            side = right if left.is_null else left
            if side.ref is None or side.minus_ref is not None or side.offset:
                raise self.fail("only a plain column can be compared with null")
            if symbol not in ("==", "!="):
                raise self.fail("null can only be compared with == or !=")
            return IsNull(side.ref, negate=symbol == "!=")

        # Membership in a list of constants.
        if symbol in ("in", "not in"):
            if left.ref is None or right.constants is None:
                raise self.fail(
                    "'in' needs a column on the left and a list on the right"
                )
            if left.minus_ref is not None:
                raise self.fail("'in' cannot be used with a difference of columns")
            values = self.values_of(left, right.constants)
            domain = frozenset(self.domain(left))
            chosen = values if symbol == "in" else domain - values
            return InSet(left.ref, frozenset(chosen))

        # Column against constant, in either order.
        if left.ref is None and right.ref is None:
            raise self.fail("a comparison needs at least one column")
        if left.ref is None:
            left, right = right, left
            symbol = _FLIP[symbol]
        if right.ref is None:
            if left.minus_ref is not None:
                return self.relation(left, symbol, right.constant)
            return self.unary(left, symbol, right.constant)

        # Column against column.
        if left.minus_ref is not None or right.minus_ref is not None:
            raise self.fail("compare at most two columns, e.g. 'a - b <= 2'")
        self.require_integer(left)
        self.require_integer(right)
        combined = _Side(
            ref=left.ref,
            column=left.column,
            minus_ref=right.ref,
            minus_column=right.column,
            offset=left.offset - right.offset,
        )
        return self.relation(combined, symbol, 0)

    def unary(self, side: _Side, symbol: str, constant: Any) -> Expr:
        column = side.column
        if column is None or side.ref is None:
            raise self.fail("internal: unary comparison without a column")
        domain = self.domain(side)
        if column.kind == "integer":
            if not _is_int(constant):
                raise self.fail(
                    f"{side.ref} is an integer column; compare it with a whole number, "
                    f"not {constant!r}"
                )
            test = _NUMERIC[symbol]
            chosen = {v for v in domain if test(v + side.offset, constant)}
            return InSet(side.ref, frozenset(chosen))
        if side.offset:
            raise self.fail(f"arithmetic on {column.kind} column {side.ref}")
        if symbol not in ("==", "!="):
            raise self.fail(f"{side.ref} is a {column.kind} column; use ==, != or in")
        values = self.values_of(side, (constant,))
        kept = values if symbol == "==" else frozenset(domain) - values
        return InSet(side.ref, frozenset(kept))

    def relation(self, side: _Side, symbol: str, constant: Any) -> Expr:
        if not _is_int(constant):
            raise self.fail(
                "a difference of columns can only be compared with a number"
            )
        if side.ref is None or side.minus_ref is None:
            raise self.fail("internal: relation without two columns")
        bound = constant - side.offset
        if side.ref == side.minus_ref:
            raise self.fail(f"{side.ref} is compared with itself")
        if symbol == "==":
            return Relation(side.ref, side.minus_ref, bound, bound)
        if symbol == "!=":
            return Or(
                (
                    Relation(side.ref, side.minus_ref, None, bound - 1),
                    Relation(side.ref, side.minus_ref, bound + 1, None),
                )
            )
        low, high = {
            "<": (None, bound - 1),
            "<=": (None, bound),
            ">": (bound + 1, None),
            ">=": (bound, None),
        }[symbol]
        return Relation(side.ref, side.minus_ref, low, high)

    def domain(self, side: _Side) -> tuple[Any, ...]:
        if side.column is None:
            raise self.fail("internal: domain of a non-column")
        return side.column.domain

    def values_of(self, side: _Side, constants: Iterable[Any]) -> frozenset[Any]:
        column = side.column
        if column is None:
            raise self.fail("internal: values of a non-column")
        domain = set(column.domain)
        chosen = set()
        for value in constants:
            if column.kind == "integer":
                if not _is_int(value):
                    raise self.fail(f"{side.ref} is an integer column, not {value!r}")
                value = value - side.offset
            elif column.kind == "boolean":
                if not isinstance(value, bool):
                    raise self.fail(
                        f"{side.ref} is a boolean column; use true or false"
                    )
            else:
                value = str(value)
            if value not in domain and column.kind != "integer":
                allowed = ", ".join(repr(v) for v in column.domain)
                raise self.fail(
                    f"{value!r} is not a value of {side.ref}; allowed: {allowed}"
                )
            if value in domain:
                chosen.add(value)
        return frozenset(chosen)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_outer_columns(
    cond: Expr, partner: str, fail: Callable[[str], Exception]
) -> None:
    """Inside exists(), allow at most one population column, and no null test on it."""
    outer: set[str] = set()
    for atom in atoms(cond):
        if isinstance(atom, IsNull) and atom.ref.partner is None:
            raise fail(
                "inside exists() a population column cannot be tested for null; move "
                "that test outside exists()"
            )
        for ref in refs_of(atom):
            if ref.partner is None:
                outer.add(ref.column)
        if (
            isinstance(atom, Relation)
            and atom.left.partner is None
            and (atom.right.partner is None)
        ):
            raise fail(
                "inside exists() compare the partner's columns with population "
                "columns, not two population columns with each other"
            )
        if isinstance(atom, InSet) and atom.ref.partner is None:
            raise fail(
                f"the test on population column {atom.ref.column!r} does not depend on "
                f"{partner}'s records; move it outside exists()"
            )
    if len(outer) > 1:
        names = ", ".join(sorted(outer))
        raise fail(
            f"exists({partner}, ...) refers to several population columns ({names}); "
            "it may compare the partner's columns with at most one population column"
        )


def atoms(expr: Expr) -> list[Expr]:
    """Return the leaves (InSet, IsNull, Relation, Exists, Const) of an expression."""
    if isinstance(expr, (And, Or)):
        return [leaf for item in expr.items for leaf in atoms(item)]
    if isinstance(expr, Not):
        return atoms(expr.item)
    return [expr]


def refs_of(atom: Expr) -> list[ColumnRef]:
    """Return the columns a leaf reads."""
    if isinstance(atom, (InSet, IsNull)):
        return [atom.ref]
    if isinstance(atom, Relation):
        return [atom.left, atom.right]
    return []


def to_text(expr: Expr) -> str:
    """Render an expression in a stable, readable form (used in digests and reports)."""
    if isinstance(expr, And):
        return "(" + " and ".join(to_text(item) for item in expr.items) + ")"
    if isinstance(expr, Or):
        return "(" + " or ".join(to_text(item) for item in expr.items) + ")"
    if isinstance(expr, Not):
        return f"not {to_text(expr.item)}"
    if isinstance(expr, Const):
        return "true" if expr.value else "false"
    if isinstance(expr, InSet):
        values = sorted(expr.values, key=lambda v: (str(type(v)), v))
        return f"{expr.ref} in {values!r}"
    if isinstance(expr, IsNull):
        return f"{expr.ref} {'!=' if expr.negate else '=='} null"
    if isinstance(expr, Relation):
        low = "-inf" if expr.low is None else str(expr.low)
        high = "+inf" if expr.high is None else str(expr.high)
        return f"{expr.left} - {expr.right} in [{low}, {high}]"
    if isinstance(expr, Exists):
        inner = "" if expr.cond is None else ", " + to_text(expr.cond)
        return f"exists({expr.partner}{inner})"
    raise TypeError(f"not an expression: {expr!r}")


_OPS: dict[type, str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}

_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

_NUMERIC: dict[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
