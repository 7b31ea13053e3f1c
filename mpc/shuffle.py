"""Oblivious shuffle of the union of all parties' rows by resharing among subsets.

Adversary: semi-honest, at most ``t`` of ``m`` parties corrupted, ``t < m/2``.

Idea (after Laur, Willemson and Zhang, "Round-efficient oblivious database
manipulation", ISC 2011). A vector additively shared among a set ``S`` of
``t + 1`` parties can be permuted locally if all of ``S`` know the permutation.
We use a sequence of such sets ``S_1 .. S_R`` chosen so that every coalition of
``t`` parties is disjoint from at least one of them (:func:`schedule`): that
coalition never learns that set's permutation, so the composed permutation is
uniformly random to it.

Steps:

1. Input. Each owner splits its rows into additive shares for ``S_1``; the shares
   of all but one member come from generators keyed by owner-member keys, so an
   owner in ``S_1`` sends nothing and any other owner sends one vector.
2. Round ``j``. The members of ``S_j`` permute their shares with a permutation
   drawn from the key of ``S_j``. A member of both ``S_j`` and ``S_{j+1}`` keeps
   its share; a member that leaves splits its share among ``S_{j+1}`` like an
   owner in step 1 and sends one vector. Every part it sends is masked with a
   key it shares with another member of ``S_{j+1}``, and ``S_{j+1}`` always has
   an honest member besides the leaver, so a coalition only ever receives
   uniformly random vectors.
3. Output. The members of ``S_R`` deal their shares with degree-``t`` Shamir
   polynomials (compressed, see :mod:`mpc.sharing`); each party adds up what it
   got. The engine deals the keys first and, once the pseudonyms group the
   rows, only the columns each group of rows still needs.

Cost for ``n`` rows of ``w`` elements: ``R + 1`` message rounds; one ``n x w``
vector per member that leaves a set (7 in all for ``m = 6``), plus
``(t + 1)(m - t - 1)`` vectors in the output step. With ``m = 6, t = 2``,
``R = 6``; with ``m = 4, t = 1``, ``R = 2``. Nothing is opened.

Each column block may live in its own field (the key column in the group-order
field, attributes in GF(2^61 - 1)); all blocks move with the same permutation.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mpc import prg, sharing
from mpc.context import SessionContext
from mpc.dealing import sum_of_dealings
from mpc.errors import ProtocolError
from mpc.field import Field


@dataclass
class Block:
    """Rows of one field: ``values`` has one row per shuffled item."""

    field: Field
    values: np.ndarray


def schedule(parties: int, threshold: int) -> list[tuple[int, ...]]:
    """See :func:`_schedule`; cached, since every step asks for it."""
    return list(_schedule(parties, threshold))


@functools.lru_cache(maxsize=64)
def _schedule(parties: int, threshold: int) -> tuple[tuple[int, ...], ...]:
    """Sets of ``threshold + 1`` parties such that every ``threshold``-coalition
    misses at least one set, ordered so that consecutive sets overlap a lot.

    A smallest such family is found by a bounded depth-first search (a covering
    design: six sets for six parties and threshold two, two for four parties and
    threshold one), with a greedy fallback for sizes where the search would be
    long. Deterministic, so that all parties agree.
    """
    if threshold == 0:
        return ((0,),)
    size = threshold + 1
    coalitions = list(itertools.combinations(range(parties), threshold))
    candidates = list(itertools.combinations(range(parties), size))
    hides = {c: [s for s in candidates if not set(c) & set(s)] for c in coalitions}
    if any(not options for options in hides.values()):
        raise ProtocolError(
            f"No shuffle schedule exists for {parties} parties and threshold "
            f"{threshold}."
        )
    chosen = _smallest_cover(coalitions, hides) or _greedy_cover(coalitions, candidates)
    return tuple(_order_by_overlap(chosen))


def _smallest_cover(
    coalitions: list[tuple[int, ...]],
    hides: dict[tuple[int, ...], list[tuple[int, ...]]],
    budget: int = 20_000,
) -> list[tuple[int, ...]] | None:
    """Fewest sets hiding every coalition, or None if the search runs too long."""
    steps = 0

    def search(left: list[tuple[int, ...]], picked: list[tuple[int, ...]], limit: int):
        nonlocal steps
        if not left:
            return list(picked)
        if len(picked) == limit:
            return None
        steps += 1
        if steps > budget:
            raise TimeoutError
        first = left[0]
        for option in hides[first]:
            rest = [c for c in left if set(c) & set(option)]
            found = search(rest, [*picked, option], limit)
            if found is not None:
                return found
        return None

    try:
        for limit in range(1, len(coalitions) + 1):
            found = search(coalitions, [], limit)
            if found is not None:
                return found
    except TimeoutError:
        return None
    return None


def _greedy_cover(
    coalitions: list[tuple[int, ...]], candidates: list[tuple[int, ...]]
) -> list[tuple[int, ...]]:
    left = set(coalitions)
    chosen: list[tuple[int, ...]] = []
    while left:
        best = max(
            candidates,
            key=lambda s: (
                sum(1 for c in left if not set(c) & set(s)),
                [-x for x in s],
            ),
        )
        chosen.append(best)
        left = {c for c in left if set(c) & set(best)}
    return chosen


def _order_by_overlap(sets: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Start from the smallest set; then always take the one overlapping most."""
    remaining = sorted(sets)
    ordered = [remaining.pop(0)]
    while remaining:
        last = set(ordered[-1])
        best = max(remaining, key=lambda s: (len(last & set(s)), [-x for x in s]))
        remaining.remove(best)
        ordered.append(best)
    return ordered


async def input_rows(
    ctx: SessionContext,
    own_blocks: Sequence[Block],
    row_counts: Sequence[int],
    *,
    label: str = "shuffle",
) -> list[Block]:
    """Step 1: this party's additive shares (among the first set) of the union.

    ``own_blocks`` are this party's rows (``row_counts[ctx.party]`` of them) in each
    block's field; every party passes blocks of the same fields and widths. The
    union is ordered by party index. Parties outside the first set get empty
    blocks.
    """
    sets = schedule(ctx.parties, ctx.threshold)
    offsets = np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int64)
    for block in own_blocks:
        if block.values.shape[0] != row_counts[ctx.party]:
            raise ProtocolError(
                f"Party {ctx.party} declared {row_counts[ctx.party]} rows but holds "
                f"{block.values.shape[0]}."
            )
    return await _input_to_set(ctx, own_blocks, row_counts, offsets, sets[0], label)


def last_set(parties: int, threshold: int) -> tuple[int, ...]:
    """The set of parties that holds the shuffled rows after :func:`mix`."""
    return schedule(parties, threshold)[-1]


async def mix(
    ctx: SessionContext,
    shares: list[Block],
    row_counts: Sequence[int],
    templates: Sequence[Block],
    *,
    label: str = "shuffle",
) -> list[Block]:
    """Step 2: permute set by set; returns additive shares among :func:`last_set`.

    ``templates`` give each block's field and row shape (any number of rows).
    Parties outside the last set get empty blocks.
    """
    sets = schedule(ctx.parties, ctx.threshold)
    total = int(sum(row_counts))
    widths = [tuple(t.values.shape[1:]) for t in templates]
    for round_no, members in enumerate(sets):
        if ctx.party in members:
            perm = prg.permutation(
                ctx.set_keys[members] if len(members) > 1 else ctx.own_key,
                total,
                label,
                round_no,
            )
            shares = [Block(b.field, b.values[perm]) for b in shares]
        if round_no + 1 < len(sets):
            shares = await _resplit(
                ctx,
                shares,
                members,
                sets[round_no + 1],
                total,
                widths,
                templates,
                (label, round_no),
            )
    return shares


async def deal_additive(
    ctx: SessionContext,
    field: Field,
    values: np.ndarray | None,
    rows: int,
    tail: tuple[int, ...],
    label: object,
) -> np.ndarray:
    """Step 3: Shamir shares for everyone of rows held additively by the last set.

    Members of :func:`last_set` pass their additive shares (``rows`` rows of shape
    ``tail``); everyone else passes None. The members may first select the rows
    and columns that are still needed, which is how the engine deals out only
    the columns each group of rows will use.
    """
    members = last_set(ctx.parties, ctx.threshold)
    template = Block(field, field.zeros((0, *tail)))
    if ctx.party in members:
        if values is None or values.shape != (rows, *tail):
            raise ProtocolError(
                f"Party {ctx.party} must deal {rows} rows of shape {tail} in this step."
            )
        held = [Block(field, values)]
    else:
        held = [template]
    dealt = await _deal_out(ctx, held, members, rows, [tail], [template], label)
    return dealt[0].values


async def shuffle(
    ctx: SessionContext,
    own_blocks: Sequence[Block],
    row_counts: Sequence[int],
    *,
    label: str = "shuffle",
) -> list[Block]:
    """Shuffle the union of all parties' rows; return this party's Shamir shares."""
    shares = await input_rows(ctx, own_blocks, row_counts, label=label)
    shares = await mix(ctx, shares, row_counts, own_blocks, label=label)
    total = int(sum(row_counts))
    holders = last_set(ctx.parties, ctx.threshold)
    out = []
    for b, block in enumerate(own_blocks):
        tail = tuple(block.values.shape[1:])
        mine = shares[b].values if ctx.party in holders else None
        values = await deal_additive(
            ctx, block.field, mine, total, tail, (label, "out", b)
        )
        out.append(Block(block.field, values))
    return out


async def _input_to_set(
    ctx: SessionContext,
    own_blocks: Sequence[Block],
    row_counts: Sequence[int],
    offsets: np.ndarray,
    members: tuple[int, ...],
    label: str,
) -> list[Block]:
    me = ctx.party
    total = int(offsets[-1])
    designated = {owner: _designated(owner, members) for owner in range(ctx.parties)}

    # What this party sends as an owner outside the first set.
    outgoing: dict[int, list[np.ndarray]] = {}
    kept: list[np.ndarray] | None = None
    if row_counts[me] > 0:
        remainders = []
        for b, block in enumerate(own_blocks):
            remainder = block.values
            for member in members:
                if member != designated[me]:
                    mask = prg.uniform(
                        block.field,
                        ctx.pair_keys[member] if member != me else ctx.own_key,
                        block.values.shape,
                        label,
                        "in",
                        me,
                        member,
                        b,
                    )
                    remainder = block.field.sub(remainder, mask)
            remainders.append(remainder)
        if designated[me] == me:
            kept = remainders
        else:
            outgoing[designated[me]] = remainders

    # Owners outside the set whose remainder this party receives.
    senders = [
        o for o in range(ctx.parties) if row_counts[o] > 0 and designated[o] == me != o
    ]
    received = await _send_blocks(ctx, own_blocks, outgoing, senders, row_counts)

    if me not in members:
        return [
            Block(b.field, b.field.zeros((0, *b.values.shape[1:]))) for b in own_blocks
        ]

    # Assemble this member's additive share of the whole union.
    out = []
    for b, block in enumerate(own_blocks):
        values = block.field.zeros((total, *block.values.shape[1:]))
        for owner in range(ctx.parties):
            count = row_counts[owner]
            if count == 0:
                continue
            rows = slice(int(offsets[owner]), int(offsets[owner + 1]))
            shape = (count, *block.values.shape[1:])
            if designated[owner] == me:
                part = kept[b] if owner == me else received[owner][b]  # type: ignore[index]
            else:
                key = ctx.own_key if owner == me else ctx.pair_keys[owner]
                part = prg.uniform(block.field, key, shape, label, "in", owner, me, b)
            values[rows] = part
        out.append(Block(block.field, values))
    return out


async def _resplit(
    ctx: SessionContext,
    shares: list[Block],
    members: tuple[int, ...],
    following: tuple[int, ...],
    total: int,
    widths: list[tuple[int, ...]],
    templates: Sequence[Block],
    label: object,
) -> list[Block]:
    """Move an additive sharing among ``members`` to one among ``following``.

    Members of both sets keep their shares. A member that leaves splits its share
    among the following set: pairwise-generator masks for all but one receiver,
    the masked remainder for that one. Every receiver shares a key with the
    leaver that no coalition of ``t`` others holds, since the following set has
    ``t + 1`` members besides the leaver, so what a coalition receives is
    uniformly random to it.
    """
    me = ctx.party
    leavers = [s for s in members if s not in following]
    outgoing: dict[int, list[np.ndarray]] = {}
    if me in leavers:
        target = _designated(me, following)
        remainders = []
        for b, block in enumerate(shares):
            remainder = block.values
            for member in following:
                if member != target:
                    mask = prg.uniform(
                        block.field,
                        ctx.pair_keys[member],
                        block.values.shape,
                        label,
                        me,
                        member,
                        b,
                    )
                    remainder = block.field.sub(remainder, mask)
            remainders.append(remainder)
        outgoing[target] = remainders

    senders = [s for s in leavers if _designated(s, following) == me]
    counts = [total if p in leavers else 0 for p in range(ctx.parties)]
    received = await _send_blocks(ctx, templates, outgoing, senders, counts)

    if me not in following:
        return [
            Block(t.field, t.field.zeros((0, *w)))
            for t, w in zip(templates, widths, strict=True)
        ]

    out = []
    for b, template in enumerate(templates):
        field = template.field
        values = shares[b].values if me in members else field.zeros((total, *widths[b]))
        for leaver in leavers:
            if _designated(leaver, following) == me:
                part = received[leaver][b]
            else:
                part = prg.uniform(
                    field,
                    ctx.pair_keys[leaver],
                    (total, *widths[b]),
                    label,
                    leaver,
                    me,
                    b,
                )
            values = field.add(values, part)
        out.append(Block(field, values))
    return out


async def _deal_out(
    ctx: SessionContext,
    shares: list[Block],
    members: tuple[int, ...],
    total: int,
    widths: list[tuple[int, ...]],
    templates: Sequence[Block],
    label: object,
) -> list[Block]:
    """Turn an additive sharing among ``members`` into Shamir shares for everyone."""
    me, t, m = ctx.party, ctx.threshold, ctx.parties
    out = []
    for b, template in enumerate(templates):
        field, step = template.field, (label, "out", b)
        dealt = None
        if me in members:
            dealt = sharing.deal(field, shares[b].values, me, t, m, ctx.pair_keys, step)
        values = await sum_of_dealings(
            ctx, field, dealt, members, t, (total, *widths[b]), step
        )
        out.append(Block(field, values))
    return out


def _designated(sender: int, members: Sequence[int]) -> int:
    """The member that receives the explicit remainder from ``sender``."""
    if sender in members:
        return sender
    return members[sender % len(members)]


async def _send_blocks(
    ctx: SessionContext,
    templates: Sequence[Block],
    outgoing: dict[int, list[np.ndarray]],
    senders: Sequence[int],
    row_counts: Sequence[int],
) -> dict[int, list[np.ndarray]]:
    """Exchange one list of blocks per (sender, receiver) pair, block by block.

    Everyone calls this with the same public ``row_counts`` (rows each party may
    send in this step), so the message rounds line up even for parties with
    nothing to send or receive.
    """
    received: dict[int, list[np.ndarray]] = {s: [] for s in senders}
    for b, template in enumerate(templates):
        shape_rest = template.values.shape[1:]
        out = {peer: arrays[b] for peer, arrays in outgoing.items()}
        got = await ctx.messenger.exchange(
            template.field, out, list(senders), rows=max(row_counts), tail=shape_rest
        )
        for sender in senders:
            received[sender].append(got[sender])
    return received
