"""Row dimensions of a table request: columns, levels, bins, groups and totals.

A dimension is a column with a public list of levels. Population columns
(``column = "income_quintile"``) take the coalesced value of the population;
another partner's column (``column = "college.field"``) takes the value of the
student's first record there, with a level for students without one; and
``by = "partner"`` has one level per population partner. Integer columns may be
binned, category columns grouped, and any dimension may end with a total level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parties.errors import RequestError, reject_unknown_keys
from parties.expressions import POPULATION, And, ColumnRef, Expr, InSet, IsNull
from parties.schema import Column, Schema

PARTNER_DIMENSION = "@partner"


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    reject_unknown_keys(table, allowed, where, RequestError)


@dataclass(frozen=True)
class Level:
    """One row category of a dimension.

    ``kind`` is ``value`` (the column's value is in ``values``), ``missing`` (the
    value is null) or ``absent`` (the student has no record at that partner).
    """

    label: str
    values: frozenset[Any]
    kind: str = "value"


@dataclass(frozen=True)
class Dimension:
    """A row dimension: a column with its public list of levels.

    A dimension of kind ``partner`` has one level per population partner: the
    first partner in the population's order that holds a record of the student
    (``ref.column`` is then :data:`PARTNER_DIMENSION`).
    """

    ref: ColumnRef
    label: str
    levels: tuple[Level, ...]
    kind: str = "column"
    total: Level | None = None

    @property
    def full_levels(self) -> tuple[Level, ...]:
        """The levels as released: the value levels, then the total if any."""
        return self.levels + ((self.total,) if self.total is not None else ())


def parse_dimension(
    spec: dict[str, Any],
    index: int,
    population: Any,
    schemas: dict[str, Schema],
    source: str,
) -> Dimension:
    """Validate one ``[[rows]]`` table. ``population`` has ``partners``, ``schema``
    and ``where`` (a :class:`parties.request.Population`)."""
    where = f"{source}: rows[{index}]"
    _no_unknown(
        spec,
        {
            "column",
            "by",
            "label",
            "bins",
            "labels",
            "groups",
            "missing_label",
            "absent_label",
            "total",
            "total_label",
        },
        where,
    )
    if "by" in spec:
        return _partner_dimension(spec, population, where)
    text = spec.get("column")
    if not isinstance(text, str) or not text:
        raise RequestError(
            f"{where}: 'column' is required, e.g. 'income_quintile' (or "
            'by = "partner" for one row per population partner).'
        )

    # Resolve the column: population column, population.x, or partner.x.
    if "." in text:
        owner, col_name = text.split(".", 1)
    else:
        owner, col_name = POPULATION, text
    if owner == POPULATION:
        ref = ColumnRef(None, col_name)
        column = population.schema.column(col_name, where=where)
    else:
        if owner not in schemas:
            raise RequestError(
                f"{where}: partner {owner!r} in column {text!r} holds no records."
            )
        if owner in population.partners:
            raise RequestError(
                f"{where}: use the population column {col_name!r} directly instead "
                f"of {text!r}."
            )
        ref = ColumnRef(owner, col_name)
        column = schemas[owner].column(col_name, where=where)

    label = str(spec.get("label", col_name))
    levels = list(_value_levels(spec, column, where))
    null_possible = column.nullable
    if ref.partner is None and population.where is not None:
        # Drop the levels that the population filter rules out, so that a table of
        # cohorts 2015-2019 does not list empty rows for 2012-2014.
        allowed, null_allowed = filter_allows(population.where, col_name)
        if allowed is not None:
            levels = [level for level in levels if level.values & allowed]
        null_possible = null_possible and null_allowed
    if null_possible:
        missing_label = str(spec.get("missing_label", "(missing)"))
        levels.append(Level(missing_label, frozenset(), "missing"))
    if ref.partner is not None:
        absent = str(spec.get("absent_label", f"(no {ref.partner} record)"))
        levels.append(Level(absent, frozenset(), "absent"))
    if not levels:
        raise RequestError(
            f"{where}: no value of {text!r} can occur in this population (the "
            "filter rules them all out); drop the dimension or widen the filter."
        )
    total = _total_level(spec, levels, where)
    labels = [level.label for level in levels] + ([total.label] if total else [])
    if len(set(labels)) != len(labels):
        raise RequestError(f"{where}: two levels share a label; labels must differ.")
    return Dimension(ref, label, tuple(levels), total=total)


def _total_level(spec: dict[str, Any], levels: list[Level], where: str) -> Level | None:
    """The optional total level of a dimension (``total = true``)."""
    wanted = spec.get("total", False)
    if not isinstance(wanted, bool):
        raise RequestError(f"{where}: total must be true or false.")
    if not wanted:
        if "total_label" in spec:
            raise RequestError(f"{where}: total_label needs total = true.")
        return None
    label = spec.get("total_label", "All")
    if not isinstance(label, str) or not label:
        raise RequestError(f"{where}: total_label must be a non-empty string.")
    values: frozenset[Any] = frozenset().union(*(lv.values for lv in levels))
    return Level(label, values, "total")


def _partner_dimension(spec: dict[str, Any], population: Any, where: str) -> Dimension:
    """Rows by population partner: the first listed partner with a record."""
    if spec.get("by") != "partner" or "column" in spec:
        raise RequestError(
            f'{where}: use either column = "..." or by = "partner", not both.'
        )
    for key in ("bins", "groups", "missing_label", "absent_label"):
        if key in spec:
            raise RequestError(f'{where}: {key!r} does not apply to by = "partner".')
    names = spec.get("labels", list(population.partners))
    if (
        not isinstance(names, list)
        or len(names) != len(population.partners)
        or not all(isinstance(n, str) and n for n in names)
        or len(set(names)) != len(names)
    ):
        raise RequestError(
            f"{where}: labels must give one distinct name per population partner, "
            f"in the order {list(population.partners)}."
        )
    levels = tuple(
        Level(label, frozenset({partner}))
        for label, partner in zip(names, population.partners, strict=True)
    )
    label = str(spec.get("label", "partner"))
    total = _total_level(spec, list(levels), where)
    return Dimension(
        ColumnRef(None, PARTNER_DIMENSION), label, levels, kind="partner", total=total
    )


def filter_allows(expr: Expr, column: str) -> tuple[frozenset[Any] | None, bool]:
    """Values of a population column that a filter still allows, and whether null is.

    Only top-level conjunctions are looked at; anything else allows everything.
    """
    if isinstance(expr, InSet) and expr.ref.column == column:
        return expr.values, False
    if isinstance(expr, IsNull) and expr.ref.column == column:
        return (frozenset(), True) if not expr.negate else (None, False)
    if isinstance(expr, And):
        allowed: frozenset[Any] | None = None
        null_allowed = True
        for item in expr.items:
            values, nulls = filter_allows(item, column)
            if values is not None:
                allowed = values if allowed is None else allowed & values
            null_allowed = null_allowed and nulls
        return allowed, null_allowed
    return None, True


def _value_levels(spec: dict[str, Any], column: Column, where: str) -> list[Level]:
    bins, groups = spec.get("bins"), spec.get("groups")
    if bins is not None and groups is not None:
        raise RequestError(f"{where}: use either 'bins' or 'groups', not both.")

    if bins is not None:
        if column.kind != "integer":
            raise RequestError(f"{where}: 'bins' needs an integer column.")
        if (
            not isinstance(bins, list)
            or not bins
            or not all(isinstance(b, int) and not isinstance(b, bool) for b in bins)
        ):
            raise RequestError(
                f"{where}: bins must be a list of lower bounds, e.g. [0, 8, 16]."
            )
        if sorted(set(bins)) != bins:
            raise RequestError(f"{where}: bins must be increasing, e.g. [0, 8, 16].")
        low, high = column.minimum, column.maximum
        if (
            low is None
            or high is None
            or bins[0] > low
            or bins[-1] > high
            or (len(bins) > 1 and bins[1] <= low)
        ):
            raise RequestError(
                f"{where}: bins {bins} must start at or below {low}, and every "
                f"later bound must lie in {low + 1 if low is not None else ''}.."
                f"{high}, so that no bin is empty."
            )
        bounds = [*bins[1:], high + 1]
        ranges = [(max(a, low), b - 1) for a, b in zip(bins, bounds, strict=True)]
        names = spec.get("labels")
        if names is not None and (
            not isinstance(names, list) or len(names) != len(ranges)
        ):
            raise RequestError(f"{where}: give one label per bin in 'labels'.")
        levels = []
        for i, (a, b) in enumerate(ranges):
            text = names[i] if names else (str(a) if a == b else f"{a}-{b}")
            levels.append(Level(str(text), frozenset(range(a, b + 1))))
        return levels

    if groups is not None:
        if column.kind != "category" or not isinstance(groups, dict) or not groups:
            raise RequestError(
                f"{where}: 'groups' needs a category column and a table such as "
                '{ "Applied or LDCC" = ["applied", "locally_developed"] }.'
            )
        seen: set[str] = set()
        levels = []
        for text, members in groups.items():
            if not isinstance(members, list) or not members:
                raise RequestError(f"{where}: group {text!r} must list values.")
            for member in members:
                if str(member) not in column.values:
                    raise RequestError(
                        f"{where}: group {text!r} lists {member!r}, which is not a "
                        f"value of {column.name!r}."
                    )
                if str(member) in seen:
                    raise RequestError(f"{where}: value {member!r} is in two groups.")
                seen.add(str(member))
            levels.append(Level(str(text), frozenset(str(m) for m in members)))
        missing = [v for v in column.values if v not in seen]
        if missing:
            raise RequestError(
                f"{where}: values {', '.join(map(repr, missing))} are in no group; "
                "every value must belong to one."
            )
        return levels

    if spec.get("labels") is not None:
        raise RequestError(f"{where}: 'labels' is only used together with 'bins'.")
    if column.kind == "boolean":
        return [Level("Yes", frozenset({True})), Level("No", frozenset({False}))]
    return [Level(str(value), frozenset({value})) for value in column.domain]
