"""Table requests: what the coordinator asks the federation to compute.

A request is a TOML file. It names the population (one or more partners that share
a schema, and a filter on their own columns), the row dimensions, the measures
(conditions counted per cell) and the disclosure rules. See the README for the full
format; a short example::

    name = "pathways_by_quintile"
    title = "Grade-9 cohorts 2015-2019 by income quintile"

    [population]
    partners = ["board_a", "board_b"]
    where = "2015 <= grade9_year <= 2019"

    [[rows]]
    column = "grade9_year"
    label = "Grade-9 cohort"

    [[rows]]
    column = "income_quintile"

    [[measures]]
    name = "ossd"
    label = "Earned an OSSD"
    when = "ossd_year != null"

    [[measures]]
    name = "college_direct"
    label = "Entered college within a year of the diploma"
    when = "exists(college, 0 <= entry_year - ossd_year <= 1)"

    [disclosure]
    min_cell_size = 10

Students listed by several population partners are counted once. Each population
column of such a student takes its value from the first partner in
``population.partners`` whose record has a non-null value for it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpc.suppression import TableShape
from parties.dimensions import (
    Dimension,
    Level,
    parse_dimension,
)
from parties.errors import RequestError, reject_unknown_keys
from parties.expressions import Expr, Scope, parse_condition
from parties.schema import Schema

MAX_CELLS = 5000
MAX_MEASURES = 64
DEFAULT_MIN_CELL_SIZE = 10

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_NAMES = frozenset(
    {"students", "null", "true", "false", "exists", "population"}
)


@dataclass(frozen=True)
class Measure:
    """A named condition; each cell counts the students for whom it holds."""

    name: str
    label: str
    when: Expr
    text: str


@dataclass(frozen=True)
class Disclosure:
    """Disclosure rules applied inside the MPC before anything is released.

    ``column_sums`` holds declared relations between columns as indices into
    the table's columns (students first): ``(total, (part, ...))``.
    """

    min_cell_size: int = DEFAULT_MIN_CELL_SIZE
    protect_complements: bool = True
    complementary: bool = True
    rounding_base: int = 0
    epsilon: float | None = None
    rho: float | None = None
    column_sums: tuple[tuple[int, tuple[int, ...]], ...] = ()

    @property
    def noisy(self) -> bool:
        return self.epsilon is not None or self.rho is not None

    def effective_epsilon(self) -> float | None:
        """The epsilon of the noise: as given, or the one that gives ``rho``."""
        if self.epsilon is not None:
            return self.epsilon
        if self.rho is not None:
            return math.sqrt(2.0 * self.rho)
        return None

    def describe(self) -> dict[str, Any]:
        """The rules as they are printed with a released table."""
        out: dict[str, Any] = {"min_cell_size": self.min_cell_size}
        if self.protect_complements and not self.noisy:
            out["protect_complements"] = True
        if self.complementary:
            out["complementary"] = True
        if self.rounding_base:
            out["rounding_base"] = self.rounding_base
        if self.epsilon is not None:
            out["epsilon"] = self.epsilon
        if self.rho is not None:
            out["rho"] = self.rho
        return out


@dataclass(frozen=True)
class Population:
    """Who is counted: the students with a record at one of ``partners`` that passes
    ``where``."""

    partners: tuple[str, ...]
    schema: Schema
    where: Expr | None
    where_text: str


@dataclass(frozen=True)
class Request:
    """A validated table request."""

    name: str
    title: str
    description: str
    population: Population
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    disclosure: Disclosure
    raw: dict[str, Any]

    @property
    def digest(self) -> str:
        """SHA-256 of the request's canonical form, compared at session start."""
        return request_digest(self.raw)

    def cells(self) -> list[tuple[Level, ...]]:
        """The base row cells in order: the product of the dimensions' levels."""
        return list(itertools.product(*(dim.levels for dim in self.dimensions)))

    def full_cells(self) -> list[tuple[Level, ...]]:
        """The released row cells: like :meth:`cells`, with total levels too."""
        return list(itertools.product(*(dim.full_levels for dim in self.dimensions)))

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names of the released table: students, then the measures."""
        return ("students", *(m.name for m in self.measures))

    def shape(self) -> TableShape:
        """The table's additive structure, for margins and suppression."""
        return TableShape(
            levels=tuple(len(d.levels) for d in self.dimensions),
            totals=tuple(d.total is not None for d in self.dimensions),
            columns=len(self.columns),
            column_sums=self.disclosure.column_sums,
        )

    def partners_used(self) -> tuple[str, ...]:
        """Partners whose records the request reads (population first)."""
        from parties.expressions import Exists, atoms

        used = list(self.population.partners)
        for dim in self.dimensions:
            if dim.ref.partner is not None and dim.ref.partner not in used:
                used.append(dim.ref.partner)
        for measure in self.measures:
            for atom in atoms(measure.when):
                if isinstance(atom, Exists) and atom.partner not in used:
                    used.append(atom.partner)
        return tuple(used)


def request_digest(raw: dict[str, Any]) -> str:
    """Digest of a parsed request TOML, independent of spacing, comments and order."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_request(path: str | Path, schemas: dict[str, Schema]) -> Request:
    """Read and validate a request file against the partners' schemas."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RequestError(f"Request file {str(path)!r} does not exist.") from None
    return parse_request_text(text, schemas, source=str(path))


def parse_request_text(
    text: str, schemas: dict[str, Schema], *, source: str = "request"
) -> Request:
    """Parse request TOML text."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RequestError(f"{source} is not valid TOML: {exc}.") from exc
    return parse_request(raw, schemas, source=source)


def parse_request(
    raw: dict[str, Any], schemas: dict[str, Schema], *, source: str = "request"
) -> Request:
    """Validate a parsed request against ``schemas`` (partner name -> schema)."""
    allowed = {"name", "title", "description", "population", "rows", "measures"}
    allowed |= {"disclosure"}
    _no_unknown(raw, allowed, source)

    name = raw.get("name", "table")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RequestError(
            f"{source}: name = {name!r} must be a short identifier such as "
            "'pathways_by_quintile'."
        )
    title = str(raw.get("title", name))
    description = str(raw.get("description", ""))

    population = _population(raw.get("population"), schemas, source)
    dimensions = tuple(
        parse_dimension(spec, i, population, schemas, source)
        for i, spec in enumerate(_list_of_tables(raw.get("rows", []), "rows", source))
    )
    measures = _measures(raw.get("measures", []), population, schemas, source)
    disclosure = _disclosure(raw.get("disclosure", {}), measures, source)

    headers = [dim.label for dim in dimensions]
    headers += ["students", "Students"] + [m.name for m in measures]
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        raise RequestError(
            f"{source}: the row labels {duplicates} are used twice (by two dimensions, "
            "or by a dimension and a measure or 'students'); give each a distinct "
            "label."
        )

    cell_count = 1
    for dim in dimensions:
        cell_count *= len(dim.full_levels)
    if cell_count > MAX_CELLS:
        raise RequestError(
            f"{source}: the rows make {cell_count} cells; at most {MAX_CELLS} are "
            "allowed, so drop a dimension or use bins."
        )

    return Request(
        name=name,
        title=title,
        description=description,
        population=population,
        dimensions=dimensions,
        measures=measures,
        disclosure=disclosure,
        raw=raw,
    )


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    reject_unknown_keys(table, allowed, where, RequestError)


def _list_of_tables(value: Any, key: str, source: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RequestError(f"{source}: '{key}' must be written as [[{key}]] tables.")
    return value


def _population(spec: Any, schemas: dict[str, Schema], source: str) -> Population:
    where = f"{source}: [population]"
    if not isinstance(spec, dict):
        raise RequestError(f"{where} is required, with partners = [...].")
    _no_unknown(spec, {"partners", "where"}, where)
    partners = spec.get("partners")
    if (
        not isinstance(partners, list)
        or not partners
        or not all(isinstance(p, str) for p in partners)
    ):
        raise RequestError(f"{where}: partners must be a non-empty list of names.")
    if len(set(partners)) != len(partners):
        raise RequestError(f"{where}: a partner is listed twice in partners.")
    for partner in partners:
        if partner not in schemas:
            known = ", ".join(sorted(schemas)) or "(none)"
            raise RequestError(
                f"{where}: partner {partner!r} holds no records in this federation; "
                f"partners with records are: {known}."
            )
    first = schemas[partners[0]]
    for partner in partners[1:]:
        if _shape(schemas[partner]) != _shape(first):
            raise RequestError(
                f"{where}: partners {partners[0]!r} and {partner!r} have different "
                "schemas; a population may only combine partners with the same "
                "columns, records_per_student and record_order."
            )

    where_text = spec.get("where", "")
    condition: Expr | None = None
    if where_text:
        scope = Scope(
            schemas=schemas, population=first, measures={}, allow_exists=False
        )
        condition = parse_condition(where_text, scope, where=f"{where} where")
    return Population(tuple(partners), first, condition, str(where_text))


def _shape(schema: Schema) -> tuple[Any, ...]:
    """What population partners must share: columns and record rules."""
    raw = schema.to_dict()
    return (
        json.dumps(raw["columns"], sort_keys=True),
        raw["records_per_student"],
        tuple(raw["record_order"]),
    )


def _measures(
    specs: Any, population: Population, schemas: dict[str, Schema], source: str
) -> tuple[Measure, ...]:
    specs = _list_of_tables(specs, "measures", source)
    if len(specs) > MAX_MEASURES:
        raise RequestError(f"{source}: at most {MAX_MEASURES} measures per request.")
    defined: dict[str, Expr] = {}
    measures = []
    for i, spec in enumerate(specs):
        where = f"{source}: measures[{i}]"
        _no_unknown(spec, {"name", "label", "when"}, where)
        name = spec.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise RequestError(f"{where}: name must be an identifier such as 'ossd'.")
        if name in defined:
            raise RequestError(f"{where}: measure name {name!r} is used twice.")
        if name in population.schema.columns or name in RESERVED_NAMES:
            raise RequestError(
                f"{where}: measure name {name!r} is also a column or reserved word; "
                "choose another name."
            )
        text = spec.get("when")
        scope = Scope(schemas=schemas, population=population.schema, measures=defined)
        expr = parse_condition(text, scope, where=f"{where} ({name})")
        defined[name] = expr
        measures.append(Measure(name, str(spec.get("label", name)), expr, str(text)))
    return tuple(measures)


def _disclosure(spec: Any, measures: tuple[Measure, ...], source: str) -> Disclosure:
    where = f"{source}: [disclosure]"
    if not isinstance(spec, dict):
        raise RequestError(f"{where} must be a table.")
    _no_unknown(
        spec,
        {
            "min_cell_size",
            "protect_complements",
            "complementary",
            "rounding_base",
            "epsilon",
            "rho",
            "column_sums",
        },
        where,
    )
    size = spec.get("min_cell_size", DEFAULT_MIN_CELL_SIZE)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 1000:
        raise RequestError(
            f"{where}: min_cell_size = {size!r} must be a whole number from 1 to 1000."
        )
    flags = {}
    for key in ("protect_complements", "complementary"):
        value = spec.get(key, True)
        if not isinstance(value, bool):
            raise RequestError(f"{where}: {key} must be true or false.")
        flags[key] = value
    base = spec.get("rounding_base", 0)
    if (
        not isinstance(base, int)
        or isinstance(base, bool)
        or not (base == 0 or 2 <= base <= 100)
    ):
        raise RequestError(
            f"{where}: rounding_base = {base!r} must be 0 (no rounding) or a whole "
            "number from 2 to 100, such as 5."
        )
    privacy = {}
    for key in ("epsilon", "rho"):
        value = spec.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (0 < value <= 100)
        ):
            raise RequestError(
                f"{where}: {key} = {value!r} must be a number in (0, 100]."
            )
        privacy[key] = float(value)
    if len(privacy) == 2:
        raise RequestError(f"{where}: give either epsilon or rho, not both.")

    columns = ["students", *(m.name for m in measures)]
    sums = []
    raw_sums = spec.get("column_sums", [])
    if not isinstance(raw_sums, list):
        raise RequestError(f"{where}: column_sums must be a list of lists of names.")
    for item in raw_sums:
        if (
            not isinstance(item, list)
            or len(item) < 3
            or not all(isinstance(n, str) for n in item)
        ):
            raise RequestError(
                f"{where}: each entry of column_sums lists a total and at least two "
                'parts, e.g. ["ossd", "ossd_direct", "ossd_delayed"].'
            )
        for name in item:
            if name not in columns:
                raise RequestError(
                    f"{where}: column_sums names {name!r}, which is neither "
                    "'students' nor a measure."
                )
        if len(set(item)) != len(item):
            raise RequestError(f"{where}: a column_sums entry lists a column twice.")
        sums.append((columns.index(item[0]), tuple(columns.index(n) for n in item[1:])))
    return Disclosure(
        min_cell_size=size,
        protect_complements=flags["protect_complements"],
        complementary=flags["complementary"],
        rounding_base=base,
        epsilon=privacy.get("epsilon"),
        rho=privacy.get("rho"),
        column_sums=tuple(sums),
    )
