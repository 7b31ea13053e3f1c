"""A fresh MPyC runtime for one session, with strict peer identities and fault exits.

MPyC builds a default runtime when it is imported and parses ``sys.argv`` to do
so; :func:`import_mpyc` imports it with a blank command line and without letting
it configure logging. :func:`create_runtime` then makes the session's own
runtime for ``m`` parties at given addresses and installs it as MPyC's current
runtime, as MPyC's own set-up does.

:func:`connect` replaces MPyC's start-up. It listens only on this party's own
address; over TLS it accepts a peer only if the peer's certificate names the
party at the index the peer claims (MPyC alone accepts any certificate of the
authority for any index); it gives up after a deadline, naming the parties that
never connected; and once connected, a lost connection fails every pending
receive at once, so that a crashed peer ends the session instead of hanging it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mpc.errors import ProtocolError, SessionAborted

logger = logging.getLogger(__name__)

_MPYC: Any = None


def import_mpyc() -> Any:
    """Import ``mpyc.runtime`` without side effects on our command line or logging."""
    global _MPYC
    if _MPYC is not None:
        return _MPYC

    saved_argv = sys.argv
    root = logging.getLogger()
    guard = logging.NullHandler()
    added = not root.handlers
    if added:
        # logging.basicConfig() does nothing when the root logger has a handler.
        root.addHandler(guard)
    sys.argv = [saved_argv[0] if saved_argv else "crp"]
    try:
        import mpyc.runtime as mpyc_runtime
    finally:
        sys.argv = saved_argv
        if added:
            root.removeHandler(guard)
    _MPYC = mpyc_runtime
    return mpyc_runtime


@dataclass(frozen=True)
class PeerAddress:
    """Where a party listens for its peers during a session."""

    host: str
    port: int


@dataclass
class TlsSettings:
    """TLS for the party-to-party links of one session.

    ``certificate_name(cert)`` returns the party name a peer certificate carries
    (as returned by ``SSLSocket.getpeercert()``); ``party_names[i]`` is the name
    party ``i`` must present.
    """

    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    party_names: list[str]
    certificate_name: Callable[[dict[str, Any]], str | None]


def create_runtime(
    party: int,
    addresses: list[PeerAddress],
    threshold: int | None = None,
) -> Any:
    """Make the MPyC runtime of one session and install it as MPyC's runtime."""
    mpyc_runtime = import_mpyc()
    import mpyc
    import mpyc.asyncoro
    import mpyc.mpctools
    import mpyc.random
    import mpyc.secgroups
    import mpyc.seclists
    import mpyc.secpols
    import mpyc.sectypes
    import mpyc.statistics

    parties = len(addresses)
    if parties < 1:
        raise ProtocolError("A session needs at least one party.")
    if not 0 <= party < parties:
        raise ProtocolError(f"Party index {party} is outside 0..{parties - 1}.")
    if threshold is None:
        threshold = (parties - 1) // 2
    if not 0 <= threshold or 2 * threshold >= parties:
        raise ProtocolError(
            f"Threshold {threshold} is not below half of {parties} parties; "
            "an honest majority is required."
        )

    options = mpyc._get_arg_parser().parse_args([])
    options.threshold = threshold
    options.no_async = parties == 1
    options.no_prss = False
    options.ssl = False  # TLS is handled by connect() below.
    options.no_barrier = False

    members = [
        mpyc_runtime.Party(i, addresses[i].host, addresses[i].port)
        for i in range(parties)
    ]
    runtime = mpyc_runtime.Runtime(party, members, options)
    for module in (
        mpyc.sectypes,
        mpyc.asyncoro,
        mpyc.mpctools,
        mpyc.seclists,
        mpyc.secpols,
        mpyc.secgroups,
        mpyc.random,
        mpyc.statistics,
    ):
        module.runtime = runtime
    mpyc_runtime.mpc = runtime
    return runtime


def _exchanger_class() -> type:
    """MPyC's message protocol with identity checks, lean sends and fault handling."""
    import mpyc.asyncoro

    base = mpyc.asyncoro.MessageExchanger

    class CheckedExchanger(base):  # type: ignore[misc, valid-type]
        # No __slots__ here: the base class declares MPyC's own.

        def __init__(self, rt: Any, peer_pid: int | None = None) -> None:
            super().__init__(rt, peer_pid)
            self.identity_ok = False
            self.closing = False
            self.lost: BaseException | None = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            if self.peer_pid is not None and not self._check(self.peer_pid):
                transport.close()
                return
            super().connection_made(transport)

        def data_received(self, data: bytes) -> None:
            if self.peer_pid is None and not self.identity_ok:
                # First bytes from a client: its claimed index. MPyC's buffer
                # (an untyped bytearray attribute) collects them meanwhile.
                pending: bytearray = getattr(self, "bytes")  # noqa: B009
                pending.extend(data)
                if len(pending) < 2:
                    return
                claimed = int.from_bytes(pending[:2], "little")
                if not self._check(claimed):
                    self.transport.close()
                    return
                data = bytes(pending)
                setattr(self, "bytes", bytearray())  # noqa: B010
            super().data_received(data)

        def _check(self, claimed: int) -> bool:
            rt = self.runtime
            if not 0 <= claimed < len(rt.parties) or claimed == rt.pid:
                logger.error("Rejected a peer that claimed party index %s.", claimed)
                return False
            tls: TlsSettings | None = getattr(rt, "crp_tls", None)
            if tls is None:
                self.identity_ok = True
                return True
            cert = self.transport.get_extra_info("peercert")
            name = tls.certificate_name(cert) if cert else None
            expected = tls.party_names[claimed]
            if name != expected:
                logger.error(
                    "Rejected a peer claiming party %d (%s): its certificate names %r.",
                    claimed,
                    expected,
                    name,
                )
                rt.crp_rejections.append((claimed, name))
                return False
            self.identity_ok = True
            return True

        def send(self, pc: int, payload: bytes) -> None:
            if self.lost is not None:
                raise SessionAborted(
                    f"Cannot send to party {self.peer_pid}: the connection was lost."
                )
            import struct

            self.transport.writelines([struct.pack("<qI", pc, len(payload)), payload])
            self.nbytes_sent += 12 + len(payload)
            self.runtime.crp_bytes_sent += 12 + len(payload)

        def receive(self, pc: int) -> Any:
            if self.lost is not None:
                raise SessionAborted(
                    f"Party {self.peer_pid} is gone: its connection was lost."
                )
            return super().receive(pc)

        def connection_lost(self, exc: BaseException | None) -> None:
            rt = self.runtime
            if self.peer_pid is None or not self.identity_ok:
                return
            reason = SessionAborted(
                f"Party {self.peer_pid} disconnected in the middle of the session."
            )
            self.lost = reason
            # A receive still waiting can never complete now (TCP delivers data
            # before the close), whether the peer crashed or shut down.
            for pending in list(self.buffers.values()):
                if isinstance(pending, asyncio.Future) and not pending.done():
                    pending.set_exception(reason)
            if self.closing or getattr(rt, "crp_closing", False):
                rt.unset_protocol(self.peer_pid)
                return
            abort = getattr(rt, "crp_abort", None)
            if abort is not None and not abort.done():
                abort.set_exception(reason)

        def close_connection(self) -> None:
            self.closing = True
            self.transport.close()

    return CheckedExchanger


async def connect(
    runtime: Any,
    *,
    tls: TlsSettings | None = None,
    timeout: float = 15.0,
) -> None:
    """Open the links of a session: listen on our own address, dial higher indices.

    Raises :class:`SessionAborted` naming the parties that did not connect within
    ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    runtime.crp_tls = tls
    runtime.crp_rejections = []
    runtime.crp_closing = False
    runtime.crp_bytes_sent = 0
    runtime.crp_abort = loop.create_future()
    runtime.crp_abort.add_done_callback(lambda f: f.exception())  # mark retrieved
    parties = len(runtime.parties)
    if parties == 1:
        runtime.start_time = time.time()
        return

    exchanger = _exchanger_class()
    me = runtime.parties[runtime.pid]
    for peer in runtime.parties:
        peer.protocol = asyncio.Future(loop=loop) if peer.pid == runtime.pid else None

    server = None
    if runtime.pid > 0:
        server = await loop.create_server(
            lambda: exchanger(runtime),
            host=me.host,
            port=me.port,
            ssl=tls.server_context if tls else None,
            reuse_address=True,
        )
        logger.debug(
            "Listening on %s:%d for parties below %d.", me.host, me.port, runtime.pid
        )

    deadline = loop.time() + timeout
    try:
        for peer in runtime.parties[runtime.pid + 1 :]:
            while True:
                if loop.time() > deadline:
                    raise SessionAborted(
                        f"Party {peer.pid} at {peer.host}:{peer.port} did not accept a "
                        f"connection within {timeout:g} s."
                    )
                try:
                    await asyncio.wait_for(
                        loop.create_connection(
                            lambda peer=peer: exchanger(runtime, peer.pid),
                            peer.host,
                            peer.port,
                            ssl=tls.client_context if tls else None,
                            server_hostname=tls.party_names[peer.pid] if tls else None,
                        ),
                        timeout=max(0.1, deadline - loop.time()),
                    )
                    break
                except (TimeoutError, OSError, ssl.SSLError) as exc:
                    logger.debug("Party %d not reachable yet: %s", peer.pid, exc)
                    await asyncio.sleep(0.1)

        remaining = max(0.1, deadline - loop.time())
        try:
            await asyncio.wait_for(asyncio.shield(me.protocol), timeout=remaining)
        except TimeoutError:
            missing = [
                p.pid
                for p in runtime.parties
                if p.pid != runtime.pid and p.protocol is None
            ]
            raise SessionAborted(
                f"Parties {missing} did not connect within {timeout:g} s."
            ) from None
    except BaseException:
        close_links(runtime)
        if server is not None:
            server.close()
        raise
    if server is not None:
        server.close()
    runtime.start_time = time.time()
    logger.info(
        "All %d parties connected%s.",
        parties,
        " over mutually authenticated TLS" if tls else "",
    )


def close_links(runtime: Any) -> None:
    """Close every link of a session at once (after an abort)."""
    runtime.crp_closing = True
    for peer in runtime.parties:
        protocol = peer.protocol
        if (
            peer.pid != runtime.pid
            and protocol is not None
            and not isinstance(protocol, asyncio.Future)
        ):
            try:
                protocol.close_connection()
            except Exception:  # noqa: BLE001 - best effort during an abort
                logger.debug("Closing the link to party %d failed.", peer.pid)


async def disconnect(runtime: Any, timeout: float = 15.0) -> None:
    """Close a session's links in order after a synchronising message."""
    if len(runtime.parties) == 1:
        return
    loop = asyncio.get_running_loop()
    runtime.crp_closing = True
    runtime.parties[runtime.pid].protocol = asyncio.Future(loop=loop)
    await asyncio.wait_for(runtime.transfer(runtime.pid), timeout=timeout)
    for peer in runtime.parties[runtime.pid + 1 :]:
        peer.protocol.close_connection()
    await asyncio.wait_for(runtime.parties[runtime.pid].protocol, timeout=timeout)


def bytes_sent(runtime: Any) -> int:
    """Bytes this party has sent to its peers so far in the session."""
    return int(getattr(runtime, "crp_bytes_sent", 0))
