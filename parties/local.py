"""Run one session with every party as a separate process on this machine.

This is how the tests, the benchmark and the first demo run a request without
long-running nodes: one ``python -m parties.session`` process per party, each
reading only its own partner's file, talking to the others over loopback. If a
party fails, the others are stopped and the error shows every party's log.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpc.errors import CrpError, SessionAborted
from parties.federation import Federation
from parties.plan import Plan, compile_plan
from parties.request import parse_request_text
from parties.results import reconstruct_table
from parties.table import ReleasedTable

logger = logging.getLogger(__name__)


class PartyFailed(CrpError):
    """A party process of a local session failed; the message has every log."""


@dataclass
class LocalRun:
    """The outcome of a local session."""

    table: ReleasedTable
    plan: Plan
    outputs: dict[int, dict[str, Any]]
    wall_seconds: float
    workdir: Path
    transcripts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports that were free a moment ago (the OS picks them)."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sock.bind((host, 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


def session_command(spec_path: Path) -> list[str]:
    """The command line of a session process."""
    return [sys.executable, "-m", "parties.session", str(spec_path)]


def run_local(
    federation: Federation,
    data: Mapping[str, str | Path],
    request_text: str,
    workdir: str | Path,
    *,
    timeout: float = 900.0,
    connect_timeout: float = 30.0,
    step_timeout: float = 300.0,
    transcript: bool = False,
    pad_to_multiple: int = 0,
    on_phase: Callable[[str, str], None] | None = None,
    kill_party_after_phase: tuple[int, str] | None = None,
) -> LocalRun:
    """Run one request with one process per federation node; return the table.

    ``data`` maps node names to their files; nodes without an entry take part as
    compute-only parties. ``kill_party_after_phase`` (tests only) kills a party as
    soon as it reports that phase.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if federation.path is None:
        raise CrpError("run_local needs a federation loaded from a file.")
    schemas = federation.schemas()
    request = parse_request_text(request_text, schemas, source="request")
    plan = compile_plan(request, schemas, pad_to_multiple=pad_to_multiple)

    addresses = [[n.host, n.mpc_port] for n in federation.nodes]
    processes: list[subprocess.Popen[str]] = []
    logs: list[Path] = []
    started = time.perf_counter()
    for node in federation.nodes:
        spec = {
            "party": node.index,
            "node": node.name,
            "node_names": [n.name for n in federation.nodes],
            "addresses": addresses,
            "threshold": federation.effective_threshold,
            "federation": str(federation.path),
            "data": str(data[node.name]) if node.name in data else None,
            "request_text": request_text,
            "output": str(workdir / f"shares-{node.index}.json"),
            "transcript": str(workdir / f"transcript-{node.index}.json")
            if transcript
            else None,
            "connect_timeout": connect_timeout,
            "step_timeout": step_timeout,
            "pad_to_multiple": pad_to_multiple,
        }
        spec_path = workdir / f"spec-{node.index}.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        log_path = workdir / f"party-{node.index}-{node.name}.log"
        logs.append(log_path)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        processes.append(
            subprocess.Popen(
                session_command(spec_path),
                stdout=subprocess.PIPE,
                stderr=log_path.open("w", encoding="utf-8"),
                text=True,
                env=env,
            )
        )

    try:
        _wait_all(
            processes,
            [n.name for n in federation.nodes],
            timeout,
            on_phase,
            kill_party_after_phase,
        )
    except BaseException:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
        for proc in processes:
            proc.wait()
        raise

    failed = [i for i, proc in enumerate(processes) if proc.returncode != 0]
    if failed:
        raise PartyFailed(_failure_report(federation, processes, logs, failed))

    outputs = {
        node.index: json.loads((workdir / f"shares-{node.index}.json").read_text())
        for node in federation.nodes
    }
    table = reconstruct_table(plan, outputs, federation.effective_threshold)
    run = LocalRun(table, plan, outputs, time.perf_counter() - started, workdir)
    if transcript:
        for node in federation.nodes:
            path = workdir / f"transcript-{node.index}.json"
            run.transcripts[node.index] = json.loads(path.read_text())
    return run


def _wait_all(
    processes: list[subprocess.Popen[str]],
    names: list[str],
    timeout: float,
    on_phase: Callable[[str, str], None] | None,
    kill_after: tuple[int, str] | None,
) -> None:
    """Wait for every process, reading their progress lines as they come."""
    import selectors

    deadline = time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    for index, proc in enumerate(processes):
        if proc.stdout is not None:
            selector.register(proc.stdout, selectors.EVENT_READ, index)
    open_streams = len(processes)
    while open_streams:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SessionAborted(
                f"The local session did not finish within {timeout:g} s."
            )
        for key, _ in selector.select(timeout=min(remaining, 1.0)):
            index = key.data
            line = key.fileobj.readline()  # type: ignore[union-attr]
            if not line:
                selector.unregister(key.fileobj)
                open_streams -= 1
                continue
            line = line.strip()
            if line.startswith("PHASE ") and on_phase:
                on_phase(names[index], line[6:])
            if (
                kill_after
                and index == kill_after[0]
                and line == f"PHASE {kill_after[1]}"
            ):
                processes[index].kill()
        if any(p.poll() not in (None, 0) for p in processes):
            # One party failed: give the others a bounded time to notice.
            grace = min(deadline, time.monotonic() + 60)
            for proc in processes:
                try:
                    proc.wait(timeout=max(0.1, grace - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            break
    for proc in processes:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))


def _failure_report(
    federation: Federation,
    processes: list[subprocess.Popen[str]],
    logs: list[Path],
    failed: list[int],
) -> str:
    lines = [
        "Parties "
        + ", ".join(
            f"{federation.nodes[i].name} (exit {processes[i].returncode})"
            for i in failed
        )
        + " failed. Logs of every party follow."
    ]
    for node, log in zip(federation.nodes, logs, strict=True):
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        tail = "\n".join(text.splitlines()[-25:])
        lines.append(f"--- {node.name} (party {node.index}) ---\n{tail}")
    return "\n".join(lines)
