"""A party node: one partner's long-running process that takes part in sessions.

A :class:`Node` loads and checks its partner's records once, then waits for
coordinators (through :mod:`parties.control`, its HTTPS endpoint). For each
request it checks who asks and what is asked against its own policy, writes the
decision to its audit log, and, when it accepts, runs one MPC session as a
separate process (:mod:`parties.node_sessions`): a fresh MPyC runtime, its own
event loop, and a clean release of the MPC port however the session ends.

One session runs at a time; a request that arrives meanwhile is refused with a
message naming the running session. A session that outlives the node's
deadline, or that a coordinator cancels, is killed. The node itself stays up
whatever happens to a session, and the session process exits on its own if the
node dies (see the ``parent_pid`` watchdog in :mod:`parties.session`).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import re
import shutil
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from mpc.errors import CrpError
from parties.audit import AuditLog
from parties.budget import PrivacyLedger, request_cost
from parties.data import describe_report, load_partner_data
from parties.errors import ConfigError, PolicyRefusal
from parties.federation import Federation, load_federation
from parties.node_config import NodeConfig
from parties.node_sessions import (
    SESSION_FOLDER_PREFIX,
    SessionRecord,
    run_session_process,
)
from parties.plan import Plan, compile_plan
from parties.policy import Policy, load_policy
from parties.request import parse_request_text
from parties.tls import Identity, file_identity, server_context

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
KEEP_SESSIONS = 20


class NodeBusy(CrpError):
    """The node is running another session."""


class UnknownSession(CrpError):
    """No session with that id was started here by this coordinator."""


class Node:
    """One partner's node: its data, policy, audit log and sessions."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.name = config.name
        self.federation: Federation = load_federation(config.federation)
        self.info = self.federation.node(config.name)

        # The certificate must name this node, or no peer would accept it.
        identity = file_identity(config.certificate)
        if identity != ("node", self.name):
            raise ConfigError(
                f"{config.source}: [tls] certificate {str(config.certificate)!r} names "
                f"{_describe(identity)}, not node {self.name!r}; use the node's own "
                "certificate from `crp certs`."
            )
        self.ssl_context = server_context(
            config.certificate, config.key, config.authority
        )
        self.policy: Policy = load_policy(
            config.policy, node=self.name, federation=self.federation
        )
        self.audit = AuditLog(config.audit_log, self.name)
        self.ledger = PrivacyLedger(
            config.state_dir / "privacy-ledger.jsonl",
            self.policy.privacy_budget_rho,
            self.name,
        )

        # Own records, loaded and checked once.
        self.frame = None
        if self.info.holds_records and config.data is None:
            raise ConfigError(
                f"{config.source}: [node] data is required: the federation declares "
                f"a schema for node {self.name!r}, so it holds records."
            )
        if not self.info.holds_records and config.data is not None:
            raise ConfigError(
                f"{config.source}: [node] data is set, but the federation declares "
                f"no schema for node {self.name!r}; compute-only nodes hold no data."
            )
        if config.data is not None and self.info.schema is not None:
            loaded = load_partner_data(config.data, self.info.schema)
            self.frame = loaded.frame
            report = loaded.report
            excluded = sum(len(rows) for rows in report.excluded.values())
            logger.info(
                "Data loaded from %s: %d row(s) read, %d kept, %d excluded.",
                Path(report.path).name,
                report.rows_read,
                report.rows_kept,
                excluded,
            )
            for line in describe_report(report).splitlines()[1:]:
                logger.info("Data: %s", line.strip())
        else:
            logger.info("Compute-only node: no records to load.")

        self._prepare_state_dir()
        self.sessions: OrderedDict[str, SessionRecord] = OrderedDict()
        logger.info(
            "Policy from %s: coordinators %s, min_cell_size >= %d, at most %d "
            "request(s) a day, %d readable column(s); privacy budget rho %.4g, "
            "%.4g spent.",
            self.policy.source,
            ", ".join(sorted(self.policy.coordinators)) or "(none)",
            self.policy.min_cell_size,
            self.policy.max_requests_per_day,
            len(self.policy.columns),
            self.ledger.budget,
            self.ledger.spent,
        )

    def _prepare_state_dir(self) -> None:
        state = self.config.state_dir
        state.mkdir(parents=True, exist_ok=True)
        os.chmod(state, 0o700)
        leftovers = [p for p in state.glob(f"{SESSION_FOLDER_PREFIX}*") if p.is_dir()]
        for folder in leftovers:
            shutil.rmtree(folder, ignore_errors=True)
        if leftovers:
            logger.warning(
                "Removed %d session folder(s) left by an earlier run.", len(leftovers)
            )

    # Who may ask

    def authorise(self, identity: Identity | None, *, coordinator_only: bool) -> str:
        """Return the caller's name, or raise :class:`PolicyRefusal`.

        Nodes of the federation may read the status; only coordinators that the
        federation lists and the policy allows may do anything else.
        """
        listed = {c.name for c in self.federation.coordinators}
        if identity is None:
            raise PolicyRefusal(
                f"Node {self.name} refuses the client: its certificate names no node "
                "or coordinator of the federation.",
                node=self.name,
                rule="certificate",
            )
        role, name = identity
        if role == "node" and not coordinator_only:
            if name in {n.name for n in self.federation.nodes}:
                return name
        if role != "coordinator":
            raise PolicyRefusal(
                f"Node {self.name} refuses {role} {name!r}: only a coordinator of "
                "the federation may send requests.",
                node=self.name,
                rule="coordinators",
            )
        if name not in listed:
            raise PolicyRefusal(
                f"Node {self.name} refuses coordinator {name!r}: federation "
                f"{self.federation.name!r} does not list it.",
                node=self.name,
                rule="coordinators",
            )
        self.policy.check_coordinator(name)
        return name

    # Requests

    def status(self) -> dict[str, Any]:
        """Public state of the node (no data, no counts)."""
        running = self.running()
        return {
            "node": self.name,
            "index": self.info.index,
            "federation": self.federation.name,
            "holds_records": self.info.holds_records,
            "busy": running is not None,
            "session": running.session_id if running else None,
            "phase": running.phase if running else None,
            "privacy_budget_remaining": round(self.ledger.remaining, 6),
        }

    def running(self) -> SessionRecord | None:
        for record in self.sessions.values():
            if not record.finished:
                return record
        return None

    def submit(
        self, identity: Identity | None, session_id: str, text: str, digest: str
    ) -> SessionRecord:
        """Check a request and start its session; raise on refusal.

        Every outcome, accepted or refused, is written to the audit log.
        """
        caller = _describe_caller(identity)
        logger.info(
            "Request received: session %s from %s, digest %s.",
            session_id,
            caller,
            digest[:12],
        )
        try:
            coordinator = self.authorise(identity, coordinator_only=True)
            if not SESSION_ID.match(session_id):
                raise _refusal(
                    self.name,
                    "session_id",
                    f"session id {session_id!r} must be 8 to 64 letters, digits, "
                    "'_' or '-'",
                )
            plan = self._compile(text, digest)
            running = self.running()
            if running is not None:
                raise NodeBusy(
                    f"Node {self.name} is busy with session {running.session_id} "
                    f"(phase {running.phase}); send the request again when it has "
                    "finished."
                )
            if session_id in self.sessions:
                raise _refusal(
                    self.name,
                    "session_id",
                    f"session id {session_id} was already used here",
                )
            self.policy.check(
                plan.request,
                plan,
                coordinator=coordinator,
                accepted_last_day=self.audit.accepted_last_day(),
            )
            disclosure = plan.request.disclosure
            self.ledger.charge(
                request_cost(disclosure.epsilon, disclosure.rho),
                session=session_id,
                digest=digest,
                coordinator=coordinator,
            )
        except (PolicyRefusal, NodeBusy) as exc:
            rule = exc.rule if isinstance(exc, PolicyRefusal) else "busy"
            logger.info("Request refused (rule %s): %s", rule, exc)
            self.audit.record(
                "refused",
                coordinator=_caller_name(identity),
                session=session_id[:64],
                digest=digest[:64],
                rule=rule,
                reason=str(exc),
            )
            raise

        request = plan.request
        record = SessionRecord(
            session_id=session_id,
            coordinator=coordinator,
            digest=digest,
            table=request.name,
            started_at=_now(),
        )
        self.audit.record(
            "accepted",
            coordinator=coordinator,
            session=session_id,
            digest=digest,
            table=request.name,
        )
        logger.info(
            "Request accepted: session %s, table %r with %d row cell(s) and %d "
            "measure(s).",
            session_id,
            request.name,
            len(plan.cells),
            len(request.measures),
        )
        self.sessions[session_id] = record
        while len(self.sessions) > KEEP_SESSIONS:
            oldest = next(iter(self.sessions.values()))
            if not oldest.finished:
                break
            self.sessions.popitem(last=False)
        record.task = asyncio.get_running_loop().create_task(
            run_session_process(
                record,
                plan,
                text,
                config=self.config,
                federation=self.federation,
                frame=self.frame,
            )
        )
        record.task.add_done_callback(lambda task: self._finish(record))
        return record

    def _compile(self, text: str, digest: str) -> Plan:
        schemas = self.federation.schemas()
        try:
            request = parse_request_text(text, schemas, source="request")
            if request.digest != digest:
                raise _refusal(
                    self.name,
                    "digest",
                    "the request text does not match the digest sent with it",
                )
            return compile_plan(request, schemas)
        except PolicyRefusal:
            raise
        except CrpError as exc:
            reason = f"the request is invalid: {exc}"
            raise _refusal(self.name, "request", reason) from exc

    def session(self, identity: Identity | None, session_id: str) -> SessionRecord:
        """A session started by this coordinator (404 for everybody else)."""
        coordinator = self.authorise(identity, coordinator_only=True)
        record = self.sessions.get(session_id)
        if record is None or record.coordinator != coordinator:
            raise UnknownSession(
                f"Node {self.name} has no session {session_id} of coordinator "
                f"{coordinator!r}."
            )
        return record

    def release(self, record: SessionRecord) -> None:
        """Note (once) that the session's output shares went to its coordinator."""
        if record.status != "done" or record.released:
            return
        record.released = True
        self.audit.record(
            "released",
            coordinator=record.coordinator,
            session=record.session_id,
            digest=record.digest,
            table=record.table,
            cells=record.cells,
            suppressed=record.suppressed,
        )
        logger.info(
            "Output shares of session %s handed to coordinator %s (%s cell(s) "
            "released).",
            record.session_id,
            record.coordinator,
            record.cells,
        )

    async def cancel(self, identity: Identity | None, session_id: str) -> SessionRecord:
        """Stop a session of this coordinator (nothing happens if it has ended)."""
        record = self.session(identity, session_id)
        if not record.finished and record.task is not None:
            record.cancel_reason = (
                f"Cancelled by coordinator {record.coordinator} at phase "
                f"{record.phase}."
            )
            record.task.cancel()
            await asyncio.wait([record.task])
            self._finish(record)
        return record

    async def shutdown(self) -> None:
        """Stop any running session (its process is killed, its folder removed)."""
        running = self.running()
        if running is not None and running.task is not None:
            running.cancel_reason = "The node is shutting down."
            running.task.cancel()
            await asyncio.wait([running.task])
            self._finish(running)
        logger.info("Node stopped.")

    def _finish(self, record: SessionRecord) -> None:
        """Record how a session ended, once: status, audit line and log line."""
        if record.finished:
            return
        record.seconds = time.monotonic() - record.started
        if record.output is not None:
            record.status = record.phase = "done"
            self.audit.record(
                "completed",
                coordinator=record.coordinator,
                session=record.session_id,
                digest=record.digest,
                table=record.table,
                cells=record.cells,
                suppressed=record.suppressed,
                seconds=record.seconds,
            )
            logger.info(
                "Session %s finished in %.1f s; sent %.1f MB to peers.",
                record.session_id,
                record.seconds,
                record.bytes_sent / 1e6,
            )
            return
        record.status = "aborted"
        record.error = (
            record.error
            or record.cancel_reason
            or "The session ended without a result."
        )
        self.audit.record(
            "aborted",
            coordinator=record.coordinator,
            session=record.session_id,
            digest=record.digest,
            table=record.table,
            reason=record.error,
            seconds=record.seconds,
        )
        logger.warning(
            "Session %s aborted after %.1f s at phase %s: %s",
            record.session_id,
            record.seconds,
            record.phase,
            record.error,
        )


def _refusal(node: str, rule: str, reason: str) -> PolicyRefusal:
    return PolicyRefusal(
        f"Node {node} refuses the request (rule {rule}): {reason}.",
        node=node,
        rule=rule,
    )


def _describe(identity: Identity | None) -> str:
    return "no node or coordinator" if identity is None else " ".join(identity)


def _describe_caller(identity: Identity | None) -> str:
    return "an unnamed client" if identity is None else " ".join(identity)


def _caller_name(identity: Identity | None) -> str:
    return "(unnamed)" if identity is None else identity[1]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
