"""A node's privacy budget ledger: what differential privacy it has spent.

Every request with noise costs privacy. The ledger keeps the cost in units of
zero-concentrated DP (``rho``), in which costs simply add up over requests: an
``epsilon``-DP release costs ``epsilon^2 / 2`` (Bun and Steinke, 2016), a
``rho``-zCDP release costs ``rho``. A total of ``rho`` implies
``(rho + 2 sqrt(rho ln(1/delta)), delta)``-DP for any ``delta``.

The ledger is an append-only file of JSON lines, one per charge, written and
flushed to disk before the session starts, so a node that restarts remembers
everything it spent. A charge is made when the node accepts a request, whether
or not the session then succeeds: that errs on the safe side, since a session
that fails late may already have released its table. Nothing in the ledger
identifies a student.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parties.errors import ConfigError, PolicyRefusal

logger = logging.getLogger(__name__)


def request_cost(epsilon: float | None, rho: float | None) -> float:
    """The zCDP cost (rho) of a request's noise, 0 for a request without noise."""
    if rho is not None:
        return float(rho)
    if epsilon is not None:
        return float(epsilon) ** 2 / 2.0
    return 0.0


def approximate_dp(rho: float, delta: float = 1e-6) -> float:
    """The epsilon of ``(epsilon, delta)``-DP implied by ``rho``-zCDP."""
    if rho <= 0:
        return 0.0
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


@dataclass(frozen=True)
class Charge:
    """One line of the ledger."""

    time: str
    session: str
    digest: str
    coordinator: str
    rho: float


class PrivacyLedger:
    """The ledger file of one node, with the node's total budget."""

    def __init__(self, path: str | Path, budget_rho: float, node: str) -> None:
        if budget_rho < 0:
            raise ConfigError(
                f"The privacy budget of node {node!r} must not be negative."
            )
        self.path = Path(path)
        self.budget = float(budget_rho)
        self.node = node
        self._lock = threading.Lock()
        self._spent = sum(charge.rho for charge in self.charges())

    @property
    def spent(self) -> float:
        return self._spent

    @property
    def remaining(self) -> float:
        return max(0.0, self.budget - self._spent)

    def charges(self) -> list[Charge]:
        """Every charge on file; a torn last line (a crash while writing) is skipped."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        out = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw: dict[str, Any] = json.loads(line)
                out.append(
                    Charge(
                        str(raw["time"]),
                        str(raw["session"]),
                        str(raw["digest"]),
                        str(raw["coordinator"]),
                        float(raw["rho"]),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                if number == len(lines) and not text.endswith("\n"):
                    logger.warning(
                        "Skipping a torn last line of the privacy ledger %s.", self.path
                    )
                    continue
                raise ConfigError(
                    f"Line {number} of privacy ledger {str(self.path)!r} is not a "
                    f"valid charge ({exc}); restore the file from a backup, since a "
                    "ledger that cannot be read cannot show that the budget holds."
                ) from exc
        return out

    def check(self, rho: float) -> None:
        """Refuse (naming the node and the rule) if ``rho`` does not fit the budget."""
        if rho <= 0:
            return
        if self._spent + rho > self.budget + 1e-12:
            raise PolicyRefusal(
                f"Node {self.node} refuses the request (rule privacy_budget_rho): it "
                f"costs rho = {rho:.4g}, and only {self.remaining:.4g} of the "
                f"budget {self.budget:.4g} is left ({self._spent:.4g} spent).",
                node=self.node,
                rule="privacy_budget_rho",
            )

    def charge(
        self, rho: float, *, session: str, digest: str, coordinator: str
    ) -> None:
        """Record a charge durably, after checking it fits."""
        if rho <= 0:
            return
        with self._lock:
            self.check(rho)
            entry = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "session": session,
                "digest": digest,
                "coordinator": coordinator,
                "rho": rho,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self._spent += rho
        logger.info(
            "Charged rho = %.4g to the privacy budget (%.4g of %.4g spent).",
            rho,
            self._spent,
            self.budget,
        )
