"""One MPC session from inputs to output shares, phase by phase.

:func:`run_session` is what a party's session process runs. All parties pass the
same public :class:`SessionPlan` (built from the same request) and their own
:class:`PartyRows`; each gets back its shares of the released table, which it
hands to the coordinator, and the cost of each phase.

Phases: ``input`` (owners split their rows), ``shuffle`` (oblivious shuffle of
the union), ``pseudonyms`` (PRF of each key, opened in the group),
``aggregation`` (cell counts over the groups), ``disclosure`` (suppression inside
the MPC) and ``output`` (re-randomised shares for the coordinator).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mpc import aggregate, disclosure, pseudonyms, shuffle
from mpc.circuit import Circuit
from mpc.context import PhaseStats, SessionContext, Transcript, agree_keys
from mpc.errors import ProtocolError, SessionAborted
from mpc.field import GROUP, SMALL
from mpc.runtime import TlsSettings, close_links, connect, disconnect
from mpc.suppression import TableShape
from mpc.transport import Messenger

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = "crp-mpc/1"

# Keys of padding rows start here: far above any 9-digit student number, and
# random over 128 bits, so they never meet a real key or each other.
PADDING_KEY_BASE = 1 << 64


@dataclass
class SessionPlan:
    """Everything public about a session, identical at every party."""

    request_digest: str
    layout: aggregate.Layout
    circuit: Circuit
    cell_roots: list[int]
    measure_roots: list[int]
    shape: TableShape
    rules: disclosure.DisclosureRules
    pad_to_multiple: int = 0

    def digest(self) -> str:
        """Digest of the request and of the compiled plan; parties compare it."""
        summary = {
            "version": PROTOCOL_VERSION,
            "request": self.request_digest,
            "layout": [self.layout.cells, self.layout.measures, self.layout.width],
            "circuit": self.circuit.describe(),
            "cells": self.cell_roots,
            "measures": self.measure_roots,
            "shape": [
                list(self.shape.levels),
                list(self.shape.totals),
                self.shape.columns,
                [[t, list(p)] for t, p in self.shape.column_sums],
            ],
            "rules": self.rules.describe(),
            "pad": self.pad_to_multiple,
        }
        text = json.dumps(summary, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class PartyRows:
    """One party's own encoded rows: student keys and ``(n, width)`` values mod p."""

    keys: np.ndarray
    rows: np.ndarray

    @classmethod
    def empty(cls, width: int) -> PartyRows:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, width), dtype=np.uint64))


@dataclass
class SessionResult:
    """This party's output shares and what the session cost it."""

    party: int
    released: np.ndarray
    rules: np.ndarray
    row_counts: list[int]
    histogram: dict[int, int]
    phases: list[PhaseStats] = field(default_factory=list)
    transcript: Transcript = field(default_factory=Transcript)


def padded_count(rows: int, multiple: int) -> int:
    """Rows after padding up to a multiple (no padding when ``multiple`` is 0)."""
    if multiple <= 0:
        return rows
    return -(-rows // multiple) * multiple


async def run_session(
    runtime: Any,
    plan: SessionPlan,
    own: PartyRows,
    *,
    tls: TlsSettings | None = None,
    connect_timeout: float = 15.0,
    step_timeout: float = 120.0,
    record_transcript: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SessionResult:
    """Run one session at this party; raises :class:`SessionAborted` on faults."""
    party, parties = runtime.pid, len(runtime.parties)
    if parties < 3:
        raise ProtocolError(
            f"A session needs at least 3 parties so that no single party can see "
            f"the data; got {parties}."
        )
    if own.rows.ndim != 2 or own.rows.shape[1] != plan.layout.width:
        raise ProtocolError(
            f"Party {party} encoded rows of width {own.rows.shape[-1]}, but the plan "
            f"expects {plan.layout.width}."
        )

    if progress:
        progress("connecting")
    await connect(runtime, tls=tls, timeout=connect_timeout)
    try:
        return await _phases(
            runtime, plan, own, step_timeout, record_transcript, progress
        )
    except BaseException:
        close_links(runtime)
        raise


async def _phases(
    runtime: Any,
    plan: SessionPlan,
    own: PartyRows,
    step_timeout: float,
    record_transcript: bool,
    progress: Callable[[str], None] | None,
) -> SessionResult:
    party, parties, threshold = runtime.pid, len(runtime.parties), runtime.threshold
    messenger = Messenger(runtime, timeout=step_timeout)
    transcript = Transcript(enabled=record_transcript)
    if record_transcript:
        _record_mpyc_openings(runtime, transcript)

    # Agree on the request and learn the (padded) row counts.
    own = _pad(own, plan.pad_to_multiple)
    hello: dict[str, Any] = {"digest": plan.digest(), "rows": int(own.keys.shape[0])}
    hellos: dict[int, Any] = await messenger.broadcast_public(
        hello, list(range(parties))
    )
    mismatched = sorted(
        p for p, h in hellos.items() if h.get("digest") != hello["digest"]
    )
    if mismatched:
        raise SessionAborted(
            f"Parties {mismatched} are computing a different request or plan than "
            f"party {party} (digest {hello['digest'][:12]}); the session is aborted."
        )
    row_counts = [int(hellos[p]["rows"]) for p in range(parties)]
    transcript.opened("row_counts", row_counts)
    logger.info("Row counts per party: %s (total %d).", row_counts, sum(row_counts))

    pair_keys, set_keys = await agree_keys(
        messenger, [s for s in shuffle.schedule(parties, threshold) if len(s) > 1]
    )
    ctx = SessionContext(
        party=party,
        parties=parties,
        threshold=threshold,
        messenger=messenger,
        pair_keys=pair_keys,
        own_key=secrets.token_bytes(32),
        set_keys=set_keys,
        transcript=transcript,
        runtime=runtime,
        progress=progress,
    )

    templates = [
        shuffle.Block(GROUP, GROUP.from_ints(own.keys.astype(object))),
        shuffle.Block(SMALL, np.ascontiguousarray(own.rows, dtype=np.uint64)),
    ]
    total = sum(row_counts)
    holders = shuffle.last_set(parties, threshold)
    with ctx.phase("input"):
        additive = await shuffle.input_rows(ctx, templates, row_counts)
    with ctx.phase("shuffle"):
        key_add, rows_add = await shuffle.mix(ctx, additive, row_counts, templates)
        del additive
        keys = await shuffle.deal_additive(
            ctx, GROUP, key_add.values if party in holders else None, total, (), "keys"
        )
        del key_add
    with ctx.phase("pseudonyms"):
        names = await pseudonyms.pseudonyms(ctx, keys)
        del keys
    with ctx.phase("aggregation"):
        groups = aggregate.group_rows(names)
        logger.info(
            "Linked %d rows into %d students; multiplicity histogram %s.",
            total,
            len(groups.single_rows) + groups.group_count,
            groups.histogram,
        )
        # Deal out only what each row will be used for: the solo columns of
        # singletons, the partner blocks of rows in multi-row groups.
        layout = plan.layout
        solo_cols, block_cols = layout.block_start, layout.width - layout.block_start
        mine = party in holders
        single = await shuffle.deal_additive(
            ctx,
            SMALL,
            rows_add.values[groups.single_rows, :solo_cols] if mine else None,
            len(groups.single_rows),
            (solo_cols,),
            "single",
        )
        multi = await shuffle.deal_additive(
            ctx,
            SMALL,
            rows_add.values[groups.multi_rows, solo_cols:] if mine else None,
            len(groups.multi_rows),
            (block_cols,),
            "multi",
        )
        del rows_add
        table = await aggregate.aggregate(
            ctx,
            single,
            multi,
            groups,
            layout,
            plan.circuit,
            plan.cell_roots,
            plan.measure_roots,
        )
    with ctx.phase("disclosure"):
        if plan.rules.noise_alpha is not None:
            table = await disclosure.add_joint_noise(ctx, table, plan.rules.noise_alpha)
        margins = plan.shape.margin_matrix().T.astype(np.uint64)
        full = SMALL.dot_t(margins, table)
        released = await disclosure.release(ctx, full, plan.shape, plan.rules)
    with ctx.phase("output"):
        await disconnect(runtime)

    return SessionResult(
        party=party,
        released=released.values,
        rules=released.rules,
        row_counts=row_counts,
        histogram=groups.histogram,
        phases=ctx.phases,
        transcript=transcript,
    )


def _record_mpyc_openings(runtime: Any, transcript: Transcript) -> None:
    """Route every value MPyC opens (inside comparisons) into the transcript."""
    original = runtime.output

    def recording_output(
        x: Any, receivers: Any = None, threshold: Any = None, raw: bool = False
    ) -> Any:
        result = original(x, receivers, threshold, raw)
        if isinstance(result, asyncio.Future):
            result.add_done_callback(
                lambda done: transcript.opened("mpyc_masked", done.result())
            )
        else:
            transcript.opened("mpyc_masked", result)
        return result

    runtime.crp_raw_output = original
    runtime.output = recording_output


def _pad(own: PartyRows, multiple: int) -> PartyRows:
    rows = own.keys.shape[0]
    target = padded_count(rows, multiple)
    if target == rows:
        return own
    extra = target - rows
    keys = np.array(
        [PADDING_KEY_BASE + secrets.randbits(128) for _ in range(extra)], dtype=object
    )
    return PartyRows(
        keys=np.concatenate([own.keys.astype(object), keys]),
        rows=np.concatenate(
            [own.rows, np.zeros((extra, own.rows.shape[1]), np.uint64)]
        ),
    )


def run_blocking(coro: Any, runtime: Any) -> Any:
    """Run a session coroutine on the runtime's event loop, mapping loop stops to
    :class:`SessionAborted`."""
    try:
        return runtime.run(coro)
    except RuntimeError as exc:
        if "Event loop stopped" in str(exc):
            raise SessionAborted(
                "The session stopped because a protocol step failed at this party."
            ) from exc
        raise
    except asyncio.CancelledError as exc:
        raise SessionAborted("The session was cancelled.") from exc
