"""A node's audit log: one JSON line per request event, appended and synced.

The node writes a line when it refuses a request, accepts one, when the session
completes or aborts, and when it hands output shares to the coordinator. Lines
are only ever appended, each followed by ``fsync``, so that a crash loses no
line already written. The fields are fixed; none can hold a student identifier
or a data value::

    {"time": "2026-03-02T14:05:09.412+00:00", "node": "board_a",
     "coordinator": "council-researcher", "session": "3f2a...",
     "digest": "9c41...", "table": "pathways_by_quintile",
     "outcome": "completed", "cells": 432, "seconds": 41.2}

``outcome`` is one of :data:`OUTCOMES`; ``rule`` (refusals) and ``reason``
(refusals and aborts) say why; ``cells`` is the number of table cells whose
output shares the session produced (the node cannot tell which of them are
suppressed: it only holds shares). The number of requests accepted in the last
24 hours, which a node's policy limits, is counted from this file, so the limit
survives restarts.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any

from mpc.errors import CrpError
from parties.errors import ConfigError

logger = logging.getLogger(__name__)

OUTCOMES = ("refused", "accepted", "completed", "aborted", "released")


class AuditLog:
    """The append-only audit file of one node."""

    def __init__(self, path: str | Path, node: str) -> None:
        self.path = Path(path)
        self.node = node
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(descriptor)
        except OSError as exc:
            raise ConfigError(
                f"Audit log {str(self.path)!r} cannot be created or opened: {exc}."
            ) from exc

    def record(
        self,
        outcome: str,
        *,
        coordinator: str,
        session: str | None = None,
        digest: str | None = None,
        table: str | None = None,
        rule: str | None = None,
        reason: str | None = None,
        cells: int | None = None,
        suppressed: int | None = None,
        seconds: float | None = None,
        now: datetime.datetime | None = None,
    ) -> dict[str, Any]:
        """Append one line and sync it to disk; returns what was written."""
        if outcome not in OUTCOMES:
            raise CrpError(
                f"Audit outcome {outcome!r} is unknown; use one of {OUTCOMES}."
            )
        moment = now or datetime.datetime.now(datetime.UTC)
        entry: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds"),
            "node": self.node,
            "coordinator": coordinator,
            "session": session,
            "digest": digest,
            "table": table,
            "outcome": outcome,
        }
        optional = {
            "rule": rule,
            "reason": reason,
            "cells": cells,
            "suppressed": suppressed,
        }
        entry.update({k: v for k, v in optional.items() if v is not None})
        if seconds is not None:
            entry["seconds"] = round(seconds, 3)
        line = json.dumps(entry, separators=(",", ":")) + "\n"

        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every readable line, oldest first (a torn last line is skipped)."""
        if not self.path.exists():
            return []
        found = []
        unreadable = 0
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    unreadable += 1
                    continue
                if isinstance(entry, dict):
                    found.append(entry)
        if unreadable:
            logger.warning(
                "Skipped %d unreadable line(s) in audit log %s.", unreadable, self.path
            )
        return found

    def accepted_since(self, since: datetime.datetime) -> int:
        """How many requests this node accepted at or after ``since``."""
        count = 0
        for entry in self.entries():
            if entry.get("outcome") != "accepted":
                continue
            try:
                moment = datetime.datetime.fromisoformat(str(entry.get("time")))
            except ValueError:
                continue
            if moment >= since:
                count += 1
        return count

    def accepted_last_day(self, now: datetime.datetime | None = None) -> int:
        """How many requests this node accepted in the 24 hours before ``now``."""
        moment = now or datetime.datetime.now(datetime.UTC)
        return self.accepted_since(moment - datetime.timedelta(days=1))
