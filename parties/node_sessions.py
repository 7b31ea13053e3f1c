"""The session process of a node: prepare the rows, run, follow and reap it.

For each accepted request a node writes its own encoded rows (student keys and
0/1 columns, see :func:`parties.encode.party_rows`) into a private session
folder (mode 0700), starts ``python -m parties.session`` on a spec that points
at them and at the node's TLS files, passes its phases and log lines on, kills
it when the node's deadline passes or the session is cancelled, and deletes
the folder afterwards, however the session ended. The process's MPC port is
free again as soon as it has been reaped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import parties
from mpc.errors import CrpError
from parties.encode import party_rows
from parties.federation import Federation
from parties.node_config import NodeConfig
from parties.plan import Plan

logger = logging.getLogger(__name__)

SESSION_FOLDER_PREFIX = "session-"

# What a session result holds for the federation only: the row counts and the
# multiplicity histogram (public among the nodes, not to the coordinator) and
# the phase costs. Everything else in it is this party's output for the
# coordinator (its shares of the released table, the plan digest, ...).
INTERNAL_RESULT_KEYS = frozenset({"row_counts", "histogram", "phases"})


@dataclass
class SessionRecord:
    """What a node remembers about one accepted session (no data, only status)."""

    session_id: str
    coordinator: str
    digest: str
    table: str
    started_at: str
    cells: int | None = None
    suppressed: int | None = None
    started: float = field(default_factory=time.monotonic)
    status: str = "preparing"  # preparing, running, done, aborted
    phase: str = "preparing"
    error: str | None = None
    seconds: float | None = None
    bytes_sent: int = 0
    output: dict[str, Any] | None = None
    released: bool = False
    cancel_reason: str | None = None
    task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "aborted")

    def view(self, node: str, *, with_output: bool) -> dict[str, Any]:
        """The session as the API shows it; output shares only when asked."""
        elapsed = self.seconds
        if elapsed is None:
            elapsed = time.monotonic() - self.started
        return {
            "session_id": self.session_id,
            "node": node,
            "table": self.table,
            "status": self.status,
            "phase": self.phase,
            "error": self.error,
            "started": self.started_at,
            "seconds": round(elapsed, 3),
            "cells": self.cells,
            "output": self.output if with_output and self.status == "done" else None,
        }


async def run_session_process(
    record: SessionRecord,
    plan: Plan,
    text: str,
    *,
    config: NodeConfig,
    federation: Federation,
    frame: pd.DataFrame | None,
) -> None:
    """Run one accepted session to its end; fill in ``record``'s result or error.

    ``frame`` holds the node's loaded records (None on a compute-only node).
    Never raises for a failed session: the error goes into the record.
    """
    folder = config.state_dir / f"{SESSION_FOLDER_PREFIX}{record.session_id}"
    process: asyncio.subprocess.Process | None = None
    try:
        # This node's own rows, in a folder only the node's user can read.
        folder.mkdir(mode=0o700)
        partner = config.name if frame is not None else None
        rows = await asyncio.to_thread(party_rows, plan, partner, frame)
        input_path = folder / "input.npz"
        await asyncio.to_thread(np.savez, input_path, keys=rows.keys, rows=rows.rows)
        spec = session_spec(config, federation, folder, input_path, text)
        spec_path = folder / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "parties.session",
            str(spec_path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_environment(),
        )
        record.status = "running"
        logger.info(
            "Session %s started (process %d, party %d of %d).",
            record.session_id,
            process.pid,
            spec["party"],
            len(federation.nodes),
        )

        # Follow it until it exits or the node's deadline passes.
        remaining = config.deadline - (time.monotonic() - record.started)
        try:
            await asyncio.wait_for(
                _follow(record, process), timeout=max(remaining, 0.1)
            )
        except TimeoutError:
            record.error = (
                f"The session did not finish within the node's deadline of "
                f"{config.deadline:g} s and was stopped."
            )
        await _stop(process)

        output_path = folder / "output.json"
        if process.returncode == 0 and output_path.exists():
            result = json.loads(output_path.read_text(encoding="utf-8"))
            record.output = {
                key: value
                for key, value in result.items()
                if key not in INTERNAL_RESULT_KEYS
            }
            # The suppression pattern is public to the nodes (it is part of the
            # released table), so the audit can say how many cells were released.
            rules = [code for row in result.get("rules", []) for code in row]
            record.cells = sum(1 for code in rules if code == 0)
            record.suppressed = len(rules) - record.cells
            record.bytes_sent = sum(
                int(p.get("bytes_sent", 0)) for p in result.get("phases", [])
            )
        else:
            record.error = record.error or (
                f"The session process ended with exit status {process.returncode}."
            )
    except asyncio.CancelledError:
        record.error = record.cancel_reason or "The session was cancelled."
    except CrpError as exc:
        record.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - the node must outlive any session
        logger.exception("Session %s failed unexpectedly.", record.session_id)
        record.error = f"The node failed to run the session: {type(exc).__name__}."
    finally:
        if process is not None:
            await _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def session_spec(
    config: NodeConfig,
    federation: Federation,
    folder: Path,
    input_path: Path,
    text: str,
) -> dict[str, Any]:
    """The spec of this node's session process (see :mod:`parties.session`)."""
    nodes = federation.nodes
    return {
        "party": federation.node(config.name).index,
        "node": config.name,
        "node_names": [n.name for n in nodes],
        "addresses": [[n.host, n.mpc_port] for n in nodes],
        "threshold": federation.effective_threshold,
        "federation": str(config.federation),
        "request_text": text,
        "input": str(input_path),
        "output": str(folder / "output.json"),
        "connect_timeout": config.connect_timeout,
        "step_timeout": config.step_timeout,
        "log_level": config.log_level,
        "parent_pid": os.getpid(),
        "tls": {
            "certificate": str(config.certificate),
            "key": str(config.key),
            "authority": str(config.authority),
        },
    }


async def _follow(record: SessionRecord, process: asyncio.subprocess.Process) -> None:
    """Read the session's phases from its output and pass its log lines on."""

    async def phases() -> None:
        if process.stdout is None:
            return
        async for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace").strip()
            if line.startswith("PHASE "):
                record.phase = line[6:]
                logger.info("Session %s phase: %s.", record.session_id, line[6:])
            elif line.startswith(("ABORTED ", "ERROR ")):
                record.error = line.partition(" ")[2]

    async def log_lines() -> None:
        if process.stderr is None:
            return
        async for raw in process.stderr:
            # The session configures its logging with this node's name.
            sys.stderr.write(raw.decode("utf-8", errors="replace"))
            sys.stderr.flush()

    await asyncio.gather(phases(), log_lines())
    await process.wait()


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill a session process if it still runs and reap it (frees its port)."""
    if process.returncode is None:
        try:
            process.kill()
        except ProcessLookupError:
            pass
    await process.wait()


def child_environment() -> dict[str, str]:
    """The environment of a session process: ours, plus this package on the path."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    root = str(Path(parties.__file__).resolve().parent.parent)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env
