"""The process that runs one MPC session for one party.

A fresh process per session gives each session a fresh MPyC runtime, its own
event loop, a hard deadline and a clean release of its port when it ends, however
it ends. The parent (a node, or the local launcher) writes a JSON spec and runs::

    python -m parties.session SPEC.json

The spec names the party, the addresses of all parties, the request text, and
either this partner's data file (loaded and encoded here) or rows the parent has
already encoded (``input``, an ``.npz`` file). The process writes its output
shares to ``output`` and prints one line ``PHASE <name>`` per phase on standard
output, which the parent turns into progress. Exit status 0 means success; 3 an
aborted session; 2 bad input.

Two optional spec keys serve long-running nodes: ``tls`` (the node's
certificate, key and authority for the MPC links, see
:func:`parties.tls.session_tls`) and ``parent_pid``: the process exits at once
when its parent is gone, so that a node that dies never leaves a session
behind holding its port.

For fault-injection tests only, the environment variable
``CRP_TEST_PAUSE_PHASE=PHASE:SECONDS`` makes the process sleep when it reaches
that phase, so that a test can kill a party in the middle of a session.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from mpc.engine import PartyRows, SessionResult, run_blocking, run_session
from mpc.errors import CrpError, SessionAborted
from mpc.runtime import PeerAddress, create_runtime

logger = logging.getLogger(__name__)


def prepare_rows(spec: dict[str, Any]) -> tuple[Any, PartyRows]:
    """Load the request and this party's rows as the spec says."""
    from parties.data import describe_report, load_partner_data
    from parties.encode import party_rows
    from parties.federation import load_federation
    from parties.plan import compile_plan
    from parties.request import parse_request_text

    federation = load_federation(spec["federation"])
    schemas = federation.schemas()
    request = parse_request_text(spec["request_text"], schemas, source="request")
    plan = compile_plan(
        request, schemas, pad_to_multiple=int(spec.get("pad_to_multiple", 0))
    )
    node = federation.nodes[spec["party"]]

    if spec.get("input"):
        with np.load(spec["input"], allow_pickle=False) as data:
            rows = PartyRows(keys=data["keys"], rows=data["rows"])
        return plan, rows
    if spec.get("data") and node.schema is not None:
        loaded = load_partner_data(spec["data"], node.schema)
        logger.info("Loaded own records: %s", describe_report(loaded.report))
        return plan, party_rows(plan, node.name, loaded.frame)
    return plan, party_rows(plan, None, None)


def write_result(path: str | Path, result: SessionResult, digest: str) -> None:
    """Write this party's output shares and costs as JSON."""
    payload = {
        "party": result.party,
        "digest": digest,
        "released": [[int(v) for v in row] for row in result.released],
        "rules": [[int(v) for v in row] for row in result.rules],
        "row_counts": result.row_counts,
        "histogram": {str(k): v for k, v in result.histogram.items()},
        "phases": [p.as_dict() for p in result.phases],
    }
    Path(path).write_text(json.dumps(payload), encoding="utf-8")


def write_transcript(path: str | Path, result: SessionResult) -> None:
    """Write what this party saw in the clear (tests only)."""
    entries = [
        {"kind": kind, "value": _jsonable(value)}
        for kind, value in result.transcript.entries
    ]
    Path(path).write_text(json.dumps(entries), encoding="utf-8")


def _jsonable(value: Any) -> Any:
    """Public values in JSON form: ints as ints, byte strings as hex."""
    if isinstance(value, np.ndarray):
        if value.dtype == np.uint8 and value.ndim == 2:
            return [bytes(row).hex() for row in value]
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (int, float, str)) or value is None:
        return value
    if hasattr(value, "value"):
        return _jsonable(value.value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        logger.error("The node that started this session is gone; exiting.")
        os._exit(3)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _test_pause() -> tuple[str, float] | None:
    """The phase and duration of ``CRP_TEST_PAUSE_PHASE`` (tests only), if set."""
    value = os.environ.get("CRP_TEST_PAUSE_PHASE", "")
    phase, sep, seconds = value.partition(":")
    if not value:
        return None
    try:
        if not sep:
            raise ValueError(value)
        return phase, float(seconds)
    except ValueError:
        raise CrpError(
            f"CRP_TEST_PAUSE_PHASE = {value!r} must look like PHASE:SECONDS."
        ) from None


def _rejections(runtime: Any, names: list[str]) -> str:
    """Peers this party turned away for a certificate that names another party."""
    found = getattr(runtime, "crp_rejections", None) or []
    parts = []
    for claimed, name in found:
        expected = names[claimed] if 0 <= claimed < len(names) else "?"
        parts.append(
            f"a peer claimed party {claimed} ({expected}) with a certificate naming "
            f"{name!r}"
        )
    return " Rejected: " + "; ".join(parts) + "." if parts else ""


def run(spec: dict[str, Any]) -> int:
    """Run the session the spec describes; returns the exit status."""
    started = time.perf_counter()
    party = int(spec["party"])
    addresses = [PeerAddress(host, int(port)) for host, port in spec["addresses"]]
    if spec.get("parent_pid"):
        watch_parent(int(spec["parent_pid"]))
    runtime: Any = None
    pause: tuple[str, float] | None = None

    def progress(phase: str) -> None:
        print(f"PHASE {phase}", flush=True)
        if pause is not None and pause[0] == phase:
            logger.warning("Pausing %g s at phase %s (test only).", pause[1], phase)
            time.sleep(pause[1])

    try:
        pause = _test_pause()
        progress("preparing")
        plan, rows = prepare_rows(spec)
        tls = None
        if spec.get("tls"):
            from parties.tls import session_tls

            tls = session_tls(spec["tls"], [n for n in spec["node_names"]])
        runtime = create_runtime(party, addresses, spec.get("threshold"))
        result = run_blocking(
            run_session(
                runtime,
                plan.session,
                rows,
                tls=tls,
                connect_timeout=float(spec.get("connect_timeout", 15)),
                step_timeout=float(spec.get("step_timeout", 120)),
                record_transcript=bool(spec.get("transcript")),
                progress=progress,
            ),
            runtime,
        )
        write_result(spec["output"], result, plan.session.digest())
        if spec.get("transcript"):
            write_transcript(spec["transcript"], result)
        progress("done")
        logger.info("Session finished in %.1f s.", time.perf_counter() - started)
        return 0
    except SessionAborted as exc:
        reason = f"{exc}{_rejections(runtime, list(spec.get('node_names', [])))}"
        logger.error("Session aborted: %s", reason)
        print(f"ABORTED {reason}", flush=True)
        return 3
    except CrpError as exc:
        logger.error("%s", exc)
        print(f"ERROR {exc}", flush=True)
        return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m parties.session SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    from parties.logs import configure_logging

    configure_logging(
        spec.get("node", f"party{spec['party']}"), spec.get("log_level", "INFO")
    )
    return run(spec)


if __name__ == "__main__":
    sys.exit(main())
