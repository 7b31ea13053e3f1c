"""What every protocol step of a session needs: who we are, keys, messages, records.

A :class:`SessionContext` is built once per session by :mod:`mpc.engine` after the
parties have agreed on keys (:func:`agree_keys`). It also carries the
:class:`Transcript`, in which every step writes down what it opened and to whom,
so that a test can compare the transcript with the leakage the README states.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpc import prg
from mpc.errors import ProtocolError
from mpc.transport import Messenger

logger = logging.getLogger(__name__)

# Kinds of values a party may see in the clear during a session. The README's
# leakage list describes each one; tests check transcripts against this list.
OPENED_KINDS = {
    "row_counts": "the number of rows each party inputs (public by design)",
    "masked_key": "(key + k) * r for a fresh uniformly random r: uniformly random",
    "masked_key_inverse": "the inverse of a masked_key value: uniformly random",
    "pseudonym_share": "g^(l_i * y_i), one additive share in the exponent: uniform",
    "pseudonyms": "the pseudonym of every shuffled row, hence the multiplicity "
    "histogram of the keys",
    "mpyc_masked": "values MPyC opens inside comparisons, masked by random numbers "
    "k bits longer than the value (statistically hiding)",
    "suppression_pattern": "which cells of the released table are suppressed, and "
    "by which rule (part of the released table)",
    "suppression_choice": "the cell chosen for each complementary suppression "
    "(part of the released table's pattern)",
}


@dataclass
class Transcript:
    """Everything this party saw in the clear, by kind (only kept when enabled)."""

    enabled: bool = False
    entries: list[tuple[str, Any]] = field(default_factory=list)

    def opened(self, kind: str, value: Any) -> None:
        if kind not in OPENED_KINDS:
            raise ProtocolError(f"A protocol step opened an undeclared kind {kind!r}.")
        if self.enabled:
            self.entries.append((kind, value))

    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.entries}


@dataclass
class PhaseStats:
    """Cost of one phase at one party."""

    name: str
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    bytes_sent: int = 0
    peak_rss_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "wall_s": round(self.wall_seconds, 4),
            "cpu_s": round(self.cpu_seconds, 4),
            "bytes_sent": self.bytes_sent,
            "peak_rss_bytes": self.peak_rss_bytes,
        }


def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark of this process (Linux), if allowed."""
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss() -> int:
    try:
        with open(f"/proc/{os.getpid()}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class SessionContext:
    """Identity, keys, messenger and records of this party in one session."""

    party: int
    parties: int
    threshold: int
    messenger: Messenger
    pair_keys: dict[int, bytes]
    own_key: bytes
    set_keys: dict[tuple[int, ...], bytes]
    transcript: Transcript
    runtime: Any = None
    phases: list[PhaseStats] = field(default_factory=list)
    progress: Any = None

    def others(self) -> list[int]:
        return [p for p in range(self.parties) if p != self.party]

    def phase(self, name: str) -> _PhaseTimer:
        """Context manager that measures one phase and reports progress."""
        return _PhaseTimer(self, name)


class _PhaseTimer:
    def __init__(self, ctx: SessionContext, name: str) -> None:
        self.ctx = ctx
        self.stats = PhaseStats(name)

    def __enter__(self) -> PhaseStats:
        from mpc.runtime import bytes_sent

        if self.ctx.progress is not None:
            self.ctx.progress(self.stats.name)
        _reset_peak_rss()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._bytes = bytes_sent(self.ctx.runtime) if self.ctx.runtime else 0
        logger.info("Phase %s started.", self.stats.name)
        return self.stats

    def __exit__(self, *exc: object) -> None:
        from mpc.runtime import bytes_sent

        self.stats.wall_seconds = time.perf_counter() - self._wall
        self.stats.cpu_seconds = time.process_time() - self._cpu
        if self.ctx.runtime is not None:
            self.stats.bytes_sent = bytes_sent(self.ctx.runtime) - self._bytes
        self.stats.peak_rss_bytes = _peak_rss()
        self.ctx.phases.append(self.stats)
        logger.info(
            "Phase %s took %.2f s wall, %.2f s CPU, sent %.1f MB, peak RSS %.0f MB.",
            self.stats.name,
            self.stats.wall_seconds,
            self.stats.cpu_seconds,
            self.stats.bytes_sent / 1e6,
            self.stats.peak_rss_bytes / 1e6,
        )


def key_sets(parties: int, sets: Iterable[Sequence[int]]) -> list[tuple[int, ...]]:
    """Normalise the sets that need a common key (sorted tuples, no duplicates)."""
    out: list[tuple[int, ...]] = []
    for members in sets:
        key = tuple(sorted(set(members)))
        if len(key) < 2 or key[-1] >= parties or key[0] < 0:
            raise ProtocolError(f"Invalid key set {members!r} for {parties} parties.")
        if key not in out:
            out.append(key)
    return out


async def agree_keys(
    messenger: Messenger, sets: Iterable[Sequence[int]]
) -> tuple[dict[int, bytes], dict[tuple[int, ...], bytes]]:
    """Agree on a key with every other party and a key per listed set, in one round.

    The lower index of a pair, and the lowest member of a set, draws the key and
    sends it over the (TLS-protected) link; semi-honest parties keep them secret.
    """
    me, parties = messenger.party, messenger.parties
    wanted = key_sets(parties, sets)
    mine_pairs = {peer: prg.fresh_key() for peer in range(me + 1, parties)}
    mine_sets = {members: prg.fresh_key() for members in wanted if members[0] == me}

    outgoing: dict[int, bytes] = {}
    for peer in range(parties):
        if peer == me:
            continue
        parts = []
        if peer > me:
            parts.append(mine_pairs[peer])
        for members in wanted:
            if members[0] == me and peer in members:
                parts.append(mine_sets[members])
        if parts:
            outgoing[peer] = b"".join(parts)
    incoming = [peer for peer in range(me)]
    incoming += [
        peer
        for peer in range(me + 1, parties)
        if any(m[0] == peer and me in m for m in wanted)
    ]
    incoming = sorted(set(incoming))
    received = await messenger.exchange_bytes(outgoing, incoming)

    pair_keys = dict(mine_pairs)
    set_keys = dict(mine_sets)
    for peer, data in received.items():
        offset = 0
        if peer < me:
            pair_keys[peer] = data[: prg.KEY_BYTES]
            offset = prg.KEY_BYTES
        for members in wanted:
            if members[0] == peer and me in members:
                set_keys[members] = data[offset : offset + prg.KEY_BYTES]
                offset += prg.KEY_BYTES
        if offset != len(data):
            raise ProtocolError(
                f"Party {peer} sent {len(data)} bytes of keys, not {offset}."
            )
    return pair_keys, set_keys
