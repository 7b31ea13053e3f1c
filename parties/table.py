"""The released table: what the coordinator receives, prints and writes.

Both the MPC run (after the coordinator reconstructs the output shares) and the
plaintext reference produce a :class:`ReleasedTable`, so tests compare them with
one equality check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUPPRESSED_MARK = "x"

# How each suppression rule marks a cell in text output; CSV files write "x".
MARKS = {"min_cell_size": "x", "complement": "x*", "complementary": "x+"}

# Rule codes as the MPC reports them (see mpc.suppression).
RULE_NAMES = {1: "min_cell_size", 2: "complement", 3: "complementary"}


@dataclass
class ReleasedTable:
    """Counts per cell and column, with the suppression pattern.

    ``values[i, j]`` is the released count of cell ``i`` and column ``j``; it is 0
    wherever ``suppressed[i, j]`` is true, and then carries no information.
    ``reasons`` maps a suppression rule name (``min_cell_size``,
    ``complementary``) to a boolean mask of the cells it removed. ``disclosure``
    records the rules applied, for example ``{"min_cell_size": 10}``, plus the
    rounding base or the noise scale when those are used.
    """

    name: str
    title: str
    dimension_labels: tuple[str, ...]
    cell_labels: list[tuple[str, ...]]
    columns: tuple[str, ...]
    column_labels: tuple[str, ...]
    values: np.ndarray
    suppressed: np.ndarray
    digest: str = ""
    notes: list[str] = field(default_factory=list)
    reasons: dict[str, np.ndarray] = field(default_factory=dict)
    disclosure: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.int64)
        self.suppressed = np.asarray(self.suppressed, dtype=bool)
        shape = (len(self.cell_labels), len(self.columns))
        if self.values.shape != shape or self.suppressed.shape != shape:
            raise ValueError(
                f"Table {self.name!r} has values of shape {self.values.shape} and a "
                f"suppression mask of shape {self.suppressed.shape}; both must be "
                f"{shape} (cells x columns)."
            )

    def same_release(self, other: ReleasedTable) -> bool:
        """True when both tables release exactly the same cells and numbers."""
        return (
            self.columns == other.columns
            and self.cell_labels == other.cell_labels
            and np.array_equal(self.suppressed, other.suppressed)
            and np.array_equal(
                np.where(self.suppressed, 0, self.values),
                np.where(other.suppressed, 0, other.values),
            )
        )

    @classmethod
    def from_codes(
        cls,
        request: Any,
        values: np.ndarray,
        codes: np.ndarray,
        disclosure: dict[str, Any] | None = None,
    ) -> ReleasedTable:
        """A released table for ``request`` from values and suppression rule codes
        (0 released, 1 minimum cell size, 2 complement, 3 complementary)."""
        codes = np.asarray(codes, dtype=np.int64)
        reasons = {name: codes == code for code, name in RULE_NAMES.items()}
        return cls(
            name=request.name,
            title=request.title,
            dimension_labels=tuple(dim.label for dim in request.dimensions),
            cell_labels=[
                tuple(level.label for level in cell) for cell in request.full_cells()
            ],
            columns=request.columns,
            column_labels=("Students", *(m.label for m in request.measures)),
            values=np.where(codes == 0, values, 0),
            suppressed=codes != 0,
            digest=request.digest,
            reasons={name: mask for name, mask in reasons.items() if mask.any()},
            disclosure=disclosure or request.disclosure.describe(),
        )

    def reason_of(self, cell: int, column: int) -> str | None:
        """The rule that suppressed a cell, or None if it is released."""
        if not self.suppressed[cell, column]:
            return None
        for rule, mask in self.reasons.items():
            if mask[cell, column]:
                return rule
        return "suppressed"

    def to_frame(self) -> pd.DataFrame:
        """One row per cell: the dimension levels, then one nullable count per column.

        Suppressed counts are ``<NA>``, never 0.
        """
        data: dict[str, Any] = {}
        for d, label in enumerate(self.dimension_labels):
            data[label] = [cell[d] for cell in self.cell_labels]
        for j, column in enumerate(self.columns):
            series = pd.array(self.values[:, j], dtype="Int64")
            series[self.suppressed[:, j]] = pd.NA
            data[column] = series
        if not self.dimension_labels:
            return pd.DataFrame(data, index=["All"])
        return pd.DataFrame(data)

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV; suppressed cells are written as ``x``."""
        path = Path(path)
        frame = self.to_frame().astype(object)
        for j, column in enumerate(self.columns):
            frame.loc[self.suppressed[:, j], column] = SUPPRESSED_MARK
        frame.to_csv(path, index=not self.dimension_labels)
        return path

    def render(self, max_rows: int = 200) -> str:
        """A plain-text rendering for terminals, with a legend of the marks of
        suppressed cells and a line on the disclosure rules applied."""
        frame = self.to_frame().astype(object)
        for j, column in enumerate(self.columns):
            for i in np.flatnonzero(self.suppressed[:, j]):
                rule = self.reason_of(int(i), j) or "suppressed"
                frame.iloc[int(i), frame.columns.get_loc(column)] = MARKS.get(
                    rule, SUPPRESSED_MARK
                )
        headers = {
            c: lab for c, lab in zip(self.columns, self.column_labels, strict=True)
        }
        frame = frame.rename(columns=headers)
        lines = [frame.to_string(index=not self.dimension_labels, max_rows=max_rows)]
        used = [rule for rule in MARKS if rule in self.reasons]
        for rule in used:
            lines.append(f"  {MARKS[rule]:<3} {self.legend(rule)}")
        if self.disclosure:
            lines.append("  Disclosure: " + self.describe_disclosure())
        return "\n".join(lines)

    def legend(self, rule: str) -> str:
        """What a suppression rule means, in words."""
        minimum = self.disclosure.get("min_cell_size", 10)
        return {
            "min_cell_size": f"suppressed: fewer than {minimum} students",
            "complement": (
                f"suppressed: fewer than {minimum} students of the cell lack this "
                "outcome"
            ),
            "complementary": (
                "suppressed so that other suppressed cells cannot be worked out "
                "from totals"
            ),
        }.get(rule, "suppressed")

    def describe_disclosure(self) -> str:
        """One line on the rules applied, the rounding base and the noise."""
        d = self.disclosure
        parts = [f"cells below {d.get('min_cell_size', 10)} suppressed"]
        if d.get("protect_complements"):
            parts.append("small complements protected")
        if d.get("complementary"):
            parts.append("complementary suppression")
        if d.get("rounding_base"):
            parts.append(f"random rounding to base {d['rounding_base']}")
        if "noise_scale" in d:
            budget = (
                f"epsilon {d['epsilon']:g}" if "epsilon" in d else f"rho {d['rho']:g}"
            )
            parts.append(
                f"discrete Laplace noise of scale {d['noise_scale']:g} ({budget}, "
                f"standard deviation {d['noise_sd_total']:g} in all)"
            )
        return "; ".join(parts) + "."
