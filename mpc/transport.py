"""Point-to-point messages between the parties of a session, on MPyC's links.

:class:`Messenger` sends a different payload to each chosen peer and waits for
the payloads it expects, all under one MPyC program counter, so that every party
matches messages by position in the (identical) protocol. Arrays travel as raw
little-endian bytes behind a small JSON header; nothing received is unpickled.

Every wait is bounded: a peer that stays silent for ``timeout`` seconds, or
whose connection is lost, ends the session with :class:`SessionAborted`.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mpc.errors import ProtocolError, SessionAborted
from mpc.field import GROUP, SMALL, Field

# Arrays above this size travel in several messages, which keeps the peak memory
# of a send near one chunk and stays far below MPyC's 4 GiB message limit.
CHUNK_BYTES = 64 << 20

_FIELDS: dict[str, Field] = {"small": SMALL, "group": GROUP}


def field_name(field: Field) -> str:
    """The wire name of a field."""
    for name, known in _FIELDS.items():
        if known is field:
            return name
    raise ProtocolError(f"Unknown field with modulus {field.modulus}.")


def pack(field: Field, array: np.ndarray) -> bytes:
    """Serialise one field array."""
    header = json.dumps({"f": field_name(field), "s": list(np.shape(array))}).encode()
    return struct.pack("<I", len(header)) + header + field.to_bytes(np.asarray(array))


def unpack(payload: bytes | memoryview) -> np.ndarray:
    """Read one field array; rejects malformed or out-of-range data."""
    view = memoryview(payload)
    try:
        (size,) = struct.unpack_from("<I", view, 0)
        header = json.loads(bytes(view[4 : 4 + size]))
        field = _FIELDS[header["f"]]
        shape = tuple(int(d) for d in header["s"])
        body = view[4 + size :]
        expected = int(np.prod(shape)) * field.element_bytes
        if len(body) != expected:
            raise ValueError(f"expected {expected} bytes, got {len(body)}")
        return field.from_bytes(body, shape)
    except (KeyError, ValueError, struct.error, json.JSONDecodeError) as exc:
        raise ProtocolError(f"Received a malformed array message ({exc}).") from exc


class Messenger:
    """Sends and receives field arrays and small public values within a session."""

    def __init__(self, runtime: Any, timeout: float = 120.0) -> None:
        self.runtime = runtime
        self.timeout = timeout
        self.party = runtime.pid
        self.parties = len(runtime.parties)

    async def exchange_bytes(
        self, outgoing: Mapping[int, bytes], incoming: Sequence[int]
    ) -> dict[int, bytes]:
        """Send ``outgoing[peer]`` to each peer and wait for one payload per peer in
        ``incoming``; all parties must make the same sequence of calls."""
        for peer in list(outgoing) + list(incoming):
            if peer == self.party or not 0 <= peer < self.parties:
                raise ProtocolError(f"Party {self.party} cannot exchange with {peer}.")
        future = _exchange(self.runtime, dict(outgoing), list(incoming))
        abort = getattr(self.runtime, "crp_abort", None)
        waiters = [future] if abort is None else [future, abort]
        done, _ = await asyncio.wait(
            waiters, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if future in done:
            result = future.result()
            if isinstance(result, BaseException):
                raise result
            return result
        if abort is not None and abort in done:
            abort.result()  # raises the recorded SessionAborted
        silent = ", ".join(str(p) for p in incoming) or "none"
        raise SessionAborted(
            f"Party {self.party} waited {self.timeout:g} s for a message from parties "
            f"{silent} and gave up."
        )

    async def exchange(
        self,
        field: Field,
        outgoing: Mapping[int, np.ndarray],
        incoming: Sequence[int],
        *,
        rows: int,
        tail: tuple[int, ...] = (),
    ) -> dict[int, np.ndarray]:
        """Like :meth:`exchange_bytes` for field arrays, sent in chunks of rows.

        ``rows`` is the largest row count of any array sent in this step by any
        party and ``tail`` the shape of one row; both must be the same at every
        party, since they fix the number of message rounds.
        """
        row_bytes = field.element_bytes * int(np.prod(tail, dtype=np.int64))
        step = max(1, CHUNK_BYTES // max(1, row_bytes))
        parts: dict[int, list[np.ndarray]] = {peer: [] for peer in incoming}
        start = 0
        while True:
            stop = start + step
            sent = {
                peer: pack(field, np.asarray(array)[start:stop])
                for peer, array in outgoing.items()
            }
            received = await self.exchange_bytes(sent, incoming)
            for peer, payload in received.items():
                parts[peer].append(unpack(payload))
            start = stop
            if start >= rows:
                break
        return {
            peer: chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
            for peer, chunks in parts.items()
        }

    async def broadcast_public(
        self, value: Any, senders: Sequence[int]
    ) -> dict[int, Any]:
        """Send a small public JSON value to everyone; return each sender's value."""
        payload = json.dumps(value).encode()
        mine = {p: payload for p in range(self.parties) if p != self.party}
        outgoing = mine if self.party in senders else {}
        incoming = [p for p in senders if p != self.party]
        received = await self.exchange_bytes(outgoing, incoming)
        out = {p: json.loads(data) for p, data in received.items()}
        if self.party in senders:
            out[self.party] = value
        return out


_EXCHANGE: Any = None


def _exchange(runtime: Any, outgoing: dict[int, bytes], incoming: list[int]) -> Any:
    """Run one exchange as an MPyC coroutine, so it gets its own program counter."""
    global _EXCHANGE
    if _EXCHANGE is None:
        import mpyc.asyncoro

        async def exchange(rt: Any, outgoing: dict[int, bytes], incoming: list[int]):
            # Exceptions are returned, not raised: MPyC stops the event loop when
            # one of its coroutines raises, and the caller must see a clean abort.
            try:
                for peer, payload in outgoing.items():
                    rt._send_message(peer, payload)
                pending = [rt._receive_message(peer) for peer in incoming]
                results = []
                for item in pending:
                    if isinstance(item, asyncio.Future):
                        item = await item
                    results.append(item)
                return dict(zip(incoming, results, strict=True))
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                return exc

        exchange.__annotations__["return"] = asyncio.Future
        _EXCHANGE = mpyc.asyncoro.mpc_coro(exchange)
    return _EXCHANGE(runtime, outgoing, incoming)
