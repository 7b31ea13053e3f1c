"""Run protocol steps of several parties in one process, over in-memory queues.

The protocols in :mod:`mpc` talk only through a :class:`mpc.transport.Messenger`;
this module swaps its byte exchange for queues so that shuffles, pseudonyms and
aggregation can be tested quickly and deterministically without sockets.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from mpc import prg
from mpc.context import SessionContext, Transcript
from mpc.transport import Messenger


class _Hub:
    def __init__(self, parties: int) -> None:
        self.queues: dict[tuple[int, int, int], asyncio.Queue[bytes]] = {}
        self.parties = parties

    def queue(self, step: int, source: int, target: int) -> asyncio.Queue[bytes]:
        key = (step, source, target)
        if key not in self.queues:
            self.queues[key] = asyncio.Queue()
        return self.queues[key]


class FakeMessenger(Messenger):
    """A messenger whose exchanges go through a shared in-memory hub."""

    def __init__(self, hub: _Hub, party: int) -> None:
        self.hub = hub
        self.party = party
        self.parties = hub.parties
        self.timeout = 30.0
        self.step = 0
        self.bytes_sent = 0

    async def exchange_bytes(self, outgoing, incoming):  # type: ignore[override]
        step = self.step
        self.step += 1
        for peer, payload in outgoing.items():
            self.bytes_sent += len(payload)
            self.hub.queue(step, self.party, peer).put_nowait(bytes(payload))
        received = {}
        for peer in incoming:
            received[peer] = await asyncio.wait_for(
                self.hub.queue(step, peer, self.party).get(), self.timeout
            )
        return received


def contexts(
    parties: int, threshold: int, *, record: bool = True
) -> list[SessionContext]:
    """Session contexts with consistent pairwise and set keys for every party."""
    hub = _Hub(parties)
    pair = {
        (i, j): prg.fresh_key() for i, j in itertools.combinations(range(parties), 2)
    }
    sets: dict[tuple[int, ...], bytes] = {}
    for size in range(2, parties + 1):
        for members in itertools.combinations(range(parties), size):
            sets[members] = prg.fresh_key()
    out = []
    for party in range(parties):
        pair_keys = {
            other: pair[tuple(sorted((party, other)))]  # type: ignore[index]
            for other in range(parties)
            if other != party
        }
        set_keys = {m: k for m, k in sets.items() if party in m}
        out.append(
            SessionContext(
                party=party,
                parties=parties,
                threshold=threshold,
                messenger=FakeMessenger(hub, party),
                pair_keys=pair_keys,
                own_key=prg.fresh_key(),
                set_keys=set_keys,
                transcript=Transcript(enabled=record),
            )
        )
    return out


def run_parties(
    parties: int,
    threshold: int,
    step: Callable[[SessionContext], Awaitable[Any]],
) -> tuple[list[Any], list[SessionContext]]:
    """Run ``step(ctx)`` for every party concurrently; return results and contexts."""
    ctxs = contexts(parties, threshold)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(step(ctx) for ctx in ctxs)))

    return asyncio.run(main()), ctxs
