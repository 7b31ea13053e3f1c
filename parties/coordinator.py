"""The coordinator: asks every node for a table, follows the session, rebuilds it.

The coordinator is a thin client; it takes no part in the computation. For one
request, :func:`request_table`

1. checks every node's ``/status`` with a short timeout, so that a node that is
   down or busy fails the request within seconds, naming that node;
2. posts the request text, its digest and a fresh session id to every node; if
   one refuses, it cancels the session at the others and reports the refusal;
3. polls each node's session for its phase (``on_progress``) until all are
   done, or until one aborts or stops answering and the others have ended too;
4. collects each node's output shares of the released table and reconstructs
   it with :func:`parties.results.reconstruct_table`, which also checks that
   all shares are consistent.

Every call uses mutual TLS with the coordinator's own certificate, and checks
that the server's certificate names the node the federation puts at that
address.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from mpc.errors import CrpError
from parties.certs import AUTHORITY_FILE, member_paths
from parties.errors import ConfigError
from parties.federation import Federation, NodeInfo, load_federation
from parties.plan import compile_plan
from parties.request import parse_request_text
from parties.results import reconstruct_table
from parties.table import ReleasedTable
from parties.tls import certificate_identity, client_context, file_identity

logger = logging.getLogger(__name__)

PHASES = (
    "submitted",
    "preparing",
    "connecting",
    "input",
    "shuffle",
    "pseudonyms",
    "aggregation",
    "disclosure",
    "output",
    "done",
)
STATUS_TIMEOUT = 5.0  # seconds for each node's status check (connect and answer)
CALL_TIMEOUT = 30.0  # seconds for any other call to answer
UNREACHABLE_AFTER = 5.0  # seconds without an answer before a node counts as lost
ABORT_GRACE = 30.0  # seconds to let the other nodes end after one failed

Progress = Callable[[Mapping[str, str]], None]


class RequestFailed(CrpError):
    """A table request did not produce a table; the message says which node failed."""


class NodeCallFailed(CrpError):
    """One call to one node failed: unreachable, refused or wrong certificate."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CoordinatorIdentity:
    """The coordinator's name and TLS files."""

    name: str
    certificate: Path
    key: Path
    authority: Path


def identity_from_prefix(prefix: str | Path) -> CoordinatorIdentity:
    """``PREFIX.crt`` and ``PREFIX.key``, with the authority ``ca.crt`` beside them."""
    prefix = Path(prefix)
    certificate = prefix.with_name(prefix.name + ".crt")
    key = prefix.with_name(prefix.name + ".key")
    authority = prefix.parent / AUTHORITY_FILE
    for path in (certificate, key, authority):
        if not path.is_file():
            raise ConfigError(
                f"Coordinator file {str(path)!r} does not exist; --identity PREFIX "
                f"needs PREFIX.crt, PREFIX.key and {AUTHORITY_FILE} in the same folder."
            )
    identity = file_identity(certificate)
    if identity is None or identity[0] != "coordinator":
        raise ConfigError(
            f"Certificate {str(certificate)!r} does not name a coordinator; use the "
            "coordinator certificate that `crp certs` wrote."
        )
    return CoordinatorIdentity(identity[1], certificate, key, authority)


def default_identity(federation: Federation) -> CoordinatorIdentity:
    """The federation's only coordinator, with files in ``certs/`` beside the
    federation file (where ``crp certs --out certs`` puts them)."""
    if len(federation.coordinators) != 1 or federation.path is None:
        raise ConfigError(
            f"Federation {federation.name!r} lists {len(federation.coordinators)} "
            "coordinators; pass --identity PREFIX to say which one you are."
        )
    name = federation.coordinators[0].name
    certificate, _ = member_paths(federation.path.parent / "certs", "coordinator", name)
    return identity_from_prefix(certificate.with_suffix(""))


class NodeClient:
    """Calls to one node's control endpoint."""

    def __init__(
        self, node: NodeInfo, context: ssl.SSLContext, *, timeout: float = CALL_TIMEOUT
    ) -> None:
        self.node = node
        self.name = node.name
        host = f"[{node.host}]" if ":" in node.host else node.host
        self.url = f"https://{host}:{node.control_port}"
        self.client = httpx.AsyncClient(
            base_url=self.url, verify=context, timeout=timeout, trust_env=False
        )

    async def status(self, timeout: float = STATUS_TIMEOUT) -> dict[str, Any]:
        return await self._call("GET", "/status", timeout=timeout)

    async def submit(self, session_id: str, text: str, digest: str) -> dict[str, Any]:
        body = {"session_id": session_id, "request": text, "digest": digest}
        return await self._call("POST", "/sessions", json=body)

    async def session(self, session_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/sessions/{session_id}")

    async def cancel(self, session_id: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/sessions/{session_id}")

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = await self.client.request(method, path, **kwargs, **extra)
        except httpx.TimeoutException:
            raise NodeCallFailed(
                f"Node {self.name} at {self.url} did not answer in time."
            ) from None
        except httpx.TransportError as exc:
            raise NodeCallFailed(
                f"Node {self.name} at {self.url} cannot be reached: {_reason(exc)}."
            ) from None

        # The server must be the node the federation puts at this address.
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream else None
        seen = certificate_identity(ssl_object.getpeercert()) if ssl_object else None
        if seen != ("node", self.name):
            shown = " ".join(seen) if seen else "no node"
            raise NodeCallFailed(
                f"The server at {self.url} presented a certificate for {shown}, not "
                f"for node {self.name}; check the federation file."
            )

        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code >= 400:
            detail = payload.get("detail") if isinstance(payload, dict) else None
            if not isinstance(detail, str):
                detail = (
                    f"Node {self.name} answered {method} {path} with HTTP "
                    f"{response.status_code}."
                )
            raise NodeCallFailed(detail, status=response.status_code)
        return payload if isinstance(payload, dict) else {}


def _reason(exc: httpx.TransportError) -> str:
    """Why a connection failed, in words a coordinator can act on."""
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            "its certificate does not verify against this coordinator's authority "
            f"file ({text})"
        )
    if isinstance(exc, httpx.ConnectError) and "SSL" not in text:
        return "nothing accepts connections there (is the node running?)"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return (
            "it closed the connection without answering, as a node does when it "
            "rejects the client certificate; check that this coordinator's "
            "certificate comes from the federation's authority"
        )
    return text


def request_table(
    federation: Federation,
    request_text: str,
    *,
    identity: CoordinatorIdentity,
    on_progress: Progress | None = None,
    timeout: float = 3600.0,
    poll_interval: float = 0.25,
) -> ReleasedTable:
    """Ask every node of the federation for one table and return it.

    Raises :class:`RequestFailed` naming the node that is down, refused, or
    aborted; :class:`~parties.errors.RequestError` when the request is invalid.
    """
    return asyncio.run(
        request_table_async(
            federation,
            request_text,
            identity=identity,
            on_progress=on_progress,
            timeout=timeout,
            poll_interval=poll_interval,
        )
    )


async def request_table_async(
    federation: Federation,
    request_text: str,
    *,
    identity: CoordinatorIdentity,
    on_progress: Progress | None = None,
    timeout: float = 3600.0,
    poll_interval: float = 0.25,
) -> ReleasedTable:
    """The same as :func:`request_table`, for callers that run an event loop."""
    schemas = federation.schemas()
    request = parse_request_text(request_text, schemas, source="request")
    plan = compile_plan(request, schemas)
    context = client_context(identity.certificate, identity.key, identity.authority)
    clients = [NodeClient(node, context) for node in federation.nodes]
    try:
        await check_nodes(clients)
        session_id = secrets.token_hex(16)
        await submit_all(clients, session_id, request_text, request.digest)
        logger.info("Session %s submitted to %d nodes.", session_id, len(clients))
        outputs = await follow_session(
            clients, session_id, on_progress, timeout, poll_interval
        )
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return reconstruct_table(plan, outputs, federation.effective_threshold)


async def check_nodes(clients: list[NodeClient]) -> None:
    """Fail unless every node answers its status quickly and is idle."""
    answers = await asyncio.gather(
        *(asyncio.wait_for(c.status(), STATUS_TIMEOUT * 2) for c in clients),
        return_exceptions=True,
    )
    problems = []
    for client, answer in zip(clients, answers, strict=True):
        if isinstance(answer, TimeoutError):
            problems.append(f"Node {client.name} did not answer in time.")
        elif isinstance(answer, BaseException):
            problems.append(str(answer))
        elif answer.get("busy"):
            problems.append(
                f"Node {client.name} is busy with session {answer.get('session')} "
                f"(phase {answer.get('phase')}); try again when it has finished."
            )
    if problems:
        raise RequestFailed("The request was not sent. " + " ".join(problems))


async def submit_all(
    clients: list[NodeClient], session_id: str, text: str, digest: str
) -> None:
    """Post the request to every node; on any refusal, cancel it everywhere."""
    answers = await asyncio.gather(
        *(c.submit(session_id, text, digest) for c in clients),
        return_exceptions=True,
    )
    refusals = [str(a) for a in answers if isinstance(a, BaseException)]
    if not refusals:
        return
    accepted = [
        c for c, a in zip(clients, answers, strict=True) if not isinstance(a, Exception)
    ]
    await asyncio.gather(
        *(c.cancel(session_id) for c in accepted), return_exceptions=True
    )
    raise RequestFailed(
        " ".join(refusals)
        + (" The session was cancelled at the other nodes." if accepted else "")
    )


async def follow_session(
    clients: list[NodeClient],
    session_id: str,
    on_progress: Progress | None,
    timeout: float,
    poll_interval: float,
) -> dict[int, dict[str, Any]]:
    """Poll every node until the session ends; return the output shares by party."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    phases = {c.name: "submitted" for c in clients}
    views: dict[str, dict[str, Any]] = {}
    silent_since: dict[str, float] = {}
    lost: dict[str, str] = {}
    failed_at: float | None = None
    shown: dict[str, str] = {}

    while True:
        waiting = [
            c
            for c in clients
            if c.name not in lost
            and views.get(c.name, {}).get("status") not in ("done", "aborted")
        ]
        answers = await asyncio.gather(
            *(c.session(session_id) for c in waiting), return_exceptions=True
        )
        now = loop.time()
        for client, answer in zip(waiting, answers, strict=True):
            if isinstance(answer, NodeCallFailed) and answer.status is None:
                # Unreachable: allow a short outage before the node counts as lost.
                since = silent_since.setdefault(client.name, now)
                if now - since >= UNREACHABLE_AFTER:
                    lost[client.name] = str(answer)
                    phases[client.name] = "lost"
                continue
            if isinstance(answer, BaseException):
                lost[client.name] = str(answer)
                phases[client.name] = "lost"
                continue
            silent_since.pop(client.name, None)
            views[client.name] = answer
            status = answer.get("status")
            phases[client.name] = "aborted" if status == "aborted" else answer["phase"]
        if on_progress is not None and phases != shown:
            shown = dict(phases)
            on_progress(shown)

        statuses = [views.get(c.name, {}).get("status") for c in clients]
        if all(status == "done" for status in statuses):
            break
        if lost or "aborted" in statuses:
            failed_at = failed_at if failed_at is not None else now
            ended = all(
                c.name in lost or s in ("done", "aborted")
                for c, s in zip(clients, statuses, strict=True)
            )
            if ended or now - failed_at > ABORT_GRACE:
                break
        if now > deadline:
            lost.update(
                {
                    c.name: f"Node {c.name} had not finished after {timeout:g} s."
                    for c, s in zip(clients, statuses, strict=True)
                    if s not in ("done", "aborted") and c.name not in lost
                }
            )
            break
        await asyncio.sleep(poll_interval)

    problems = [f"{message}" for message in lost.values()]
    problems += [
        f"Node {name} aborted: {view.get('error')}"
        for name, view in views.items()
        if view.get("status") == "aborted"
    ]
    if problems:
        unfinished = [
            c
            for c in clients
            if c.name not in lost
            and views.get(c.name, {}).get("status") not in ("done", "aborted")
        ]
        await asyncio.gather(
            *(c.cancel(session_id) for c in unfinished), return_exceptions=True
        )
        raise RequestFailed(
            f"Session {session_id} failed. " + " ".join(_sentence(p) for p in problems)
        )
    return {int(v["output"]["party"]): v["output"] for v in views.values()}


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


class ProgressLine:
    """A one-line progress bar with each node's phase, redrawn in place.

    On a terminal the line is redrawn with a carriage return; otherwise one line
    is printed whenever a phase changes.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self.drawn = False

    def __call__(self, phases: Mapping[str, str]) -> None:
        steps = len(PHASES) - 1
        done = [
            PHASES.index(p) / steps if p in PHASES else 0.0 for p in phases.values()
        ]
        fraction = sum(done) / max(len(done), 1)
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        states = "  ".join(f"{name}:{phase}" for name, phase in phases.items())
        line = f"[{bar}] {fraction:4.0%}  {states}"
        if self.tty:
            columns = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + line[: columns - 1].ljust(columns - 1))
            self.drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line (call once the request has ended)."""
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
        self.drawn = False


def run_request(
    federation_path: Path,
    table_path: Path,
    out: Path,
    *,
    identity_prefix: Path | None = None,
    timeout: float = 3600.0,
) -> int:
    """``crp request``: ask for one table, print it and write it as CSV."""
    federation = load_federation(federation_path)
    try:
        text = table_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Request file {str(table_path)!r} does not exist.") from None
    identity = (
        identity_from_prefix(identity_prefix)
        if identity_prefix is not None
        else default_identity(federation)
    )

    progress = ProgressLine()
    started = time.perf_counter()
    try:
        table = request_table(
            federation,
            text,
            identity=identity,
            on_progress=progress,
            timeout=timeout,
        )
    finally:
        progress.close()
    elapsed = time.perf_counter() - started

    print(table.title)
    print(table.render())
    out.mkdir(parents=True, exist_ok=True)
    path = table.to_csv(out / f"{table.name}.csv")
    print(
        f"Computed by {len(federation.nodes)} nodes in {elapsed:.1f} s; cells marked "
        f"x were suppressed inside the MPC. Table written to {path}."
    )
    return 0
