"""Declared schemas of the partners' record files.

A partner declares its file once, in a small TOML file, and every node checks its
data against that declaration at start-up. Column domains are public: they fix the
width of the encodings that enter the MPC, so they must be agreed in advance.

Example (a school board)::

    name = "board"
    description = "One row per student enrolled in secondary school at the board."
    id_column = "oen"
    id_check = "luhn"
    records_per_student = "one"
    record_order = ["grade9_year"]

    [columns.gender]
    type = "category"
    values = ["F", "M", "X"]

    [columns.grade9_year]
    type = "integer"
    min = 2012
    max = 2019

    [columns.ossd_year]
    type = "integer"
    min = 2014
    max = 2027
    nullable = true

Column types are ``category`` (a fixed list of string values), ``integer`` (whole
numbers between ``min`` and ``max``, inclusive) and ``boolean``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from parties.errors import ConfigError

ColumnKind = Literal["category", "integer", "boolean"]
COLUMN_KINDS: tuple[str, ...] = ("category", "integer", "boolean")
ID_CHECKS: tuple[str, ...] = ("luhn", "none")

# Widest integer range a column may declare: every value becomes one column of a
# one-hot encoding when a request compares it with another partner's year.
MAX_INTEGER_RANGE = 200


@dataclass(frozen=True)
class Column:
    """One declared column of a partner's file."""

    name: str
    kind: ColumnKind
    values: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    nullable: bool = False
    label: str = ""

    @property
    def domain(self) -> tuple[Any, ...]:
        """Every non-null value the column may take, in a fixed public order."""
        if self.kind == "category":
            return self.values
        if self.kind == "boolean":
            return (False, True)
        _check_range(self)
        return tuple(range(int(self.minimum), int(self.maximum) + 1))  # type: ignore[arg-type]


def _check_range(column: Column) -> None:
    """Raise unless an integer column has a usable public range."""
    if column.minimum is None or column.maximum is None:
        raise ConfigError(
            f"Integer column {column.name!r} needs both 'min' and 'max'; "
            "add them to the schema."
        )


@dataclass(frozen=True)
class Schema:
    """The declared layout of one partner's record file."""

    name: str
    id_column: str
    columns: dict[str, Column] = field(default_factory=dict)
    id_check: str = "luhn"
    records_per_student: Literal["one", "many"] = "one"
    record_order: tuple[str, ...] = ()
    description: str = ""

    def column(self, name: str, *, where: str = "") -> Column:
        """Return a column by name, or raise a clear error naming the schema."""
        try:
            return self.columns[name]
        except KeyError:
            known = ", ".join(sorted(self.columns)) or "(none)"
            place = f" in {where}" if where else ""
            raise ConfigError(
                f"Column {name!r}{place} is not declared in schema {self.name!r}; "
                f"declared columns are: {known}."
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """Return the schema in the same shape as its TOML file."""
        columns: dict[str, Any] = {}
        for column in self.columns.values():
            entry: dict[str, Any] = {"type": column.kind}
            if column.kind == "category":
                entry["values"] = list(column.values)
            if column.kind == "integer":
                entry["min"] = column.minimum
                entry["max"] = column.maximum
            if column.nullable:
                entry["nullable"] = True
            if column.label:
                entry["label"] = column.label
            columns[column.name] = entry
        return {
            "name": self.name,
            "description": self.description,
            "id_column": self.id_column,
            "id_check": self.id_check,
            "records_per_student": self.records_per_student,
            "record_order": list(self.record_order),
            "columns": columns,
        }


def record_sort_keys(frame: Any, schema: Schema) -> list[Any]:
    """Sort keys that put a student's records in ``record_order``.

    The rule, shared by the loader, the local encoding and the reference:
    integers ascending, booleans false before true, categories in the order of
    their declared values; nulls last; ties keep file order (sort stably).
    Returns one pandas Series per ``record_order`` column, ready for
    ``DataFrame.sort_values`` via a helper frame.
    """
    keys = []
    for name in schema.record_order:
        column = schema.columns[name]
        series = frame[name]
        if column.kind == "category":
            rank = {value: i for i, value in enumerate(column.values)}
            series = series.map(rank, na_action="ignore").astype("Float64")
        elif column.kind == "boolean":
            series = series.astype("Float64")
        else:
            series = series.astype("Float64")
        keys.append(series)
    return keys


def load_schema(path: str | Path) -> Schema:
    """Read and validate a schema TOML file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Schema file {str(path)!r} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Schema file {str(path)!r} is not valid TOML: {exc}."
        ) from exc
    return schema_from_dict(raw, source=str(path))


def schema_from_dict(raw: dict[str, Any], *, source: str = "schema") -> Schema:
    """Build a :class:`Schema` from parsed TOML, naming ``source`` in every error."""
    known_keys = {
        "name",
        "description",
        "id_column",
        "id_check",
        "records_per_student",
        "record_order",
        "columns",
    }
    unknown = sorted(set(raw) - known_keys)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)}; "
            f"allowed keys are {', '.join(sorted(known_keys))}."
        )

    name = _required_str(raw, "name", source)
    id_column = _required_str(raw, "id_column", source)
    id_check = raw.get("id_check", "luhn")
    if id_check not in ID_CHECKS:
        raise ConfigError(
            f"{source}: id_check = {id_check!r} is not supported; use 'luhn' or 'none'."
        )
    records = raw.get("records_per_student", "one")
    if records not in ("one", "many"):
        raise ConfigError(
            f"{source}: records_per_student = {records!r} must be 'one' or 'many'."
        )

    raw_columns = raw.get("columns", {})
    if not isinstance(raw_columns, dict):
        raise ConfigError(f"{source}: [columns] must be a table of column tables.")
    columns = {
        col_name: _column_from_dict(col_name, spec, source)
        for col_name, spec in raw_columns.items()
    }
    if id_column in columns:
        raise ConfigError(
            f"{source}: the id column {id_column!r} must not also be listed under "
            "[columns]; remove it there."
        )

    order = tuple(raw.get("record_order", ()))
    for col_name in order:
        if col_name not in columns:
            raise ConfigError(
                f"{source}: record_order names {col_name!r}, which is not a declared "
                "column."
            )

    return Schema(
        name=name,
        id_column=id_column,
        columns=columns,
        id_check=id_check,
        records_per_student=records,
        record_order=order,
        description=str(raw.get("description", "")),
    )


def _required_str(raw: dict[str, Any], key: str, source: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: key {key!r} is required and must be a string.")
    return value


def _column_from_dict(name: str, spec: Any, source: str) -> Column:
    where = f"{source}: column {name!r}"
    if not isinstance(spec, dict):
        raise ConfigError(f'{where} must be a table such as {{ type = "category" }}.')
    kind = spec.get("type")
    if kind not in COLUMN_KINDS:
        raise ConfigError(
            f"{where} has type {kind!r}; use one of {', '.join(COLUMN_KINDS)}."
        )
    allowed = {"type", "values", "min", "max", "nullable", "label"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}.")
    nullable = bool(spec.get("nullable", False))
    label = str(spec.get("label", ""))

    if kind == "category":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where} needs a non-empty list 'values'.")
        values_t = tuple(str(v) for v in values)
        if len(set(values_t)) != len(values_t):
            raise ConfigError(f"{where} lists a value twice in 'values'.")
        return Column(name, "category", values=values_t, nullable=nullable, label=label)

    if kind == "integer":
        low, high = spec.get("min"), spec.get("max")
        if not isinstance(low, int) or not isinstance(high, int):
            raise ConfigError(f"{where} needs integer 'min' and 'max'.")
        if high < low:
            raise ConfigError(f"{where} has max = {high} below min = {low}.")
        if high - low + 1 > MAX_INTEGER_RANGE:
            raise ConfigError(
                f"{where} spans {high - low + 1} values; at most {MAX_INTEGER_RANGE} "
                "are allowed, so narrow min and max."
            )
        return Column(
            name, "integer", minimum=low, maximum=high, nullable=nullable, label=label
        )

    return Column(name, "boolean", nullable=nullable, label=label)
