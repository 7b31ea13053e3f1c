"""The node's control endpoint: an HTTPS API with mutual TLS, served by uvicorn.

Endpoints (the OpenAPI description is served at ``/openapi.json``):

* ``GET /status``: the node's name, index and whether a session runs. Open to
  the federation's coordinators and nodes.
* ``POST /sessions``: a coordinator submits ``{"session_id", "request",
  "digest"}``. Answers 202 with the session, 403 when the node's policy refuses
  (the message names the node and the rule), 400 for an invalid request or a
  digest that does not match the text, 409 while another session runs.
* ``GET /sessions/{id}``: status, phase and error of a session; once it is
  done, this node's output shares. Only the coordinator that created the
  session sees it (404 for anybody else).
* ``DELETE /sessions/{id}``: that coordinator cancels its session.

Every connection must present a certificate of the federation's authority (the
TLS handshake fails otherwise); the app then reads the holder from the
certificate (see :func:`parties.tls.certificate_identity_der`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from uvicorn.protocols.http.h11_impl import H11Protocol

from mpc.errors import CrpError
from parties.errors import ConfigError, PolicyRefusal
from parties.logs import configure_logging
from parties.node import Node, NodeBusy, UnknownSession
from parties.node_config import load_node_config
from parties.tls import Identity, certificate_identity_der

logger = logging.getLogger(__name__)

BAD_REQUEST_RULES = frozenset({"request", "digest", "session_id"})
MAX_REQUEST_CHARS = 200_000

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


class TlsScopeProtocol(H11Protocol):
    """Uvicorn's HTTP/1.1 protocol that also fills the ASGI TLS extension.

    Uvicorn does not hand the client certificate to the application (its issue
    encode/uvicorn#1118 is open). The ASGI TLS extension defines where a server
    puts it: ``scope["extensions"]["tls"]["client_cert_chain"]``, a list of PEM
    certificates. This subclass reads the verified certificate once per
    connection, when the handshake is over, and adds the extension to the scope
    of every request on that connection. Python's ``ssl`` gives only the leaf
    certificate, so the chain holds one entry.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        extension = {
            "server_cert": None,
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
            "cipher_suite": None,
        }
        app = self.app

        async def with_tls(
            scope: dict[str, Any],
            receive: Callable[[], Awaitable[Any]],
            send: Callable[[Any], Awaitable[None]],
        ) -> None:
            scope["extensions"] = {**scope.get("extensions", {}), "tls": extension}
            await app(scope, receive, send)

        self.app = with_tls


def caller_identity(request: Request) -> Identity | None:
    """The holder of the client certificate of this request, if any."""
    tls = request.scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    return certificate_identity_der(ssl.PEM_cert_to_DER_cert(chain[0]))


class SessionSubmission(BaseModel):
    """A coordinator's request for one session."""

    session_id: str = Field(
        description="Id the coordinator chose; the same at every node.",
        min_length=8,
        max_length=64,
    )
    request: str = Field(
        description="The table request, as TOML text.", max_length=MAX_REQUEST_CHARS
    )
    digest: str = Field(
        description="SHA-256 of the request's canonical form (hex).",
        pattern="^[0-9a-f]{64}$",
    )


class SessionOutput(BaseModel):
    """This node's output for the coordinator: its shares of the released table.

    Besides the fields below it carries whatever public release information the
    engine's output holds (such as the suppression pattern).
    """

    model_config = ConfigDict(extra="allow")

    party: int = Field(description="This node's party index.")
    digest: str = Field(description="Digest of the session plan.")
    released: list[list[int]] = Field(description="Shares of the released cells.")


class SessionView(BaseModel):
    """A session as the node reports it."""

    session_id: str
    node: str
    table: str
    status: str = Field(description="preparing, running, done or aborted")
    phase: str
    error: str | None
    started: str
    seconds: float
    cells: int | None = Field(description="Cells in the output, once done.")
    output: SessionOutput | None = None


class NodeStatus(BaseModel):
    """The node's public state."""

    node: str
    index: int
    federation: str
    holds_records: bool
    busy: bool
    session: str | None
    phase: str | None
    privacy_budget_remaining: float = Field(
        description="zCDP budget (rho) this node has left for requests with noise."
    )


class Problem(BaseModel):
    """Why a call was refused."""

    detail: str
    node: str
    rule: str | None = None


def create_app(node: Node) -> FastAPI:
    """The FastAPI application of a node."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await node.shutdown()

    app = FastAPI(
        title=f"crp node {node.name}",
        description="Control endpoint of a party node of a crp-mpc federation.",
        version="1",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    problems: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem} for code in (400, 403, 404, 409)
    }

    @app.exception_handler(PolicyRefusal)
    async def refused(request: Request, exc: PolicyRefusal) -> JSONResponse:
        code = 400 if exc.rule in BAD_REQUEST_RULES else 403
        return _problem(code, str(exc), node.name, exc.rule)

    @app.exception_handler(NodeBusy)
    async def busy(request: Request, exc: NodeBusy) -> JSONResponse:
        return _problem(409, str(exc), node.name, "busy")

    @app.exception_handler(UnknownSession)
    async def unknown(request: Request, exc: UnknownSession) -> JSONResponse:
        return _problem(404, str(exc), node.name, None)

    @app.get("/status", response_model=NodeStatus, responses=problems)
    async def status(request: Request) -> dict[str, Any]:
        node.authorise(caller_identity(request), coordinator_only=False)
        return node.status()

    @app.post(
        "/sessions", status_code=202, response_model=SessionView, responses=problems
    )
    async def submit(request: Request, body: SessionSubmission) -> dict[str, Any]:
        record = node.submit(
            caller_identity(request), body.session_id, body.request, body.digest
        )
        return record.view(node.name, with_output=False)

    @app.get("/sessions/{session_id}", response_model=SessionView, responses=problems)
    async def session(request: Request, session_id: str) -> dict[str, Any]:
        record = node.session(caller_identity(request), session_id)
        view = record.view(node.name, with_output=True)
        if view["output"] is not None:
            node.release(record)
        return view

    @app.delete(
        "/sessions/{session_id}", response_model=SessionView, responses=problems
    )
    async def cancel(request: Request, session_id: str) -> dict[str, Any]:
        record = await node.cancel(caller_identity(request), session_id)
        return record.view(node.name, with_output=False)

    return app


def _problem(code: int, detail: str, node: str, rule: str | None) -> JSONResponse:
    return JSONResponse(
        status_code=code, content={"detail": detail, "node": node, "rule": rule}
    )


async def serve(node: Node) -> None:
    """Serve the node's control endpoint until SIGTERM or SIGINT."""
    config = uvicorn.Config(
        create_app(node),
        host=node.info.host,
        port=node.info.control_port,
        http=TlsScopeProtocol,
        ws="none",
        lifespan="on",
        ssl_context_factory=lambda config, default: node.ssl_context,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)

    # Uvicorn stops gracefully on SIGTERM and SIGINT, then raises the signal
    # again with the handler that was installed before it started. A handler
    # that does nothing lets the node end normally after its shutdown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: None)

    # Bind the port here, so that a port in use is one clear sentence.
    listener = _listen(node)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    if server.started:
        host = node.info.host
        shown = f"[{host}]" if ":" in host else host
        logger.info(
            "Listening for coordinators on https://%s:%d; sessions use port %d.",
            shown,
            node.info.control_port,
            node.info.mpc_port,
        )
    await serving


def _listen(node: Node) -> socket.socket:
    """A socket bound to the node's control address."""
    host, port = node.info.host, node.info.control_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(
            f"Node {node.name} cannot listen on {host}:{port} ({exc.strerror}); "
            "is another node running with this configuration?"
        ) from None
    return listener


def run_node(config_path: str | Path) -> int:
    """``crp node``: load the configuration and data, then serve until stopped."""
    config = load_node_config(config_path)
    configure_logging(config.name, config.log_level)
    logger.info(
        "Node %s starting (pid %d) with configuration %s.",
        config.name,
        os.getpid(),
        config.source,
    )
    try:
        node = Node(config)
    except CrpError as exc:
        logger.error("The node cannot start: %s", exc)
        return 2
    except KeyboardInterrupt:
        logger.info("Interrupted during start-up.")
        return 130
    try:
        asyncio.run(serve(node))
    except ConfigError as exc:
        logger.error("The node cannot start: %s", exc)
        return 2
    return 0
