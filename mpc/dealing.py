"""Several dealers share values with everyone; each party keeps the sum of its shares.

Adversary: semi-honest, at most ``t`` of ``m`` parties corrupted, ``t < m/2``.

This is the one message step behind random sharings, zero sharings, degree
reduction, joint noise and the end of the shuffle. Each dealer first makes a
compressed dealing with :func:`mpc.sharing.deal` (or one of its variants, with
the same ``label``); :func:`sum_of_dealings` sends the explicit shares, lets the
helpers draw theirs from their keys, and adds up every dealer's contribution.

Cost: one message round; each dealer sends ``m - degree - 1`` arrays of the
given shape. Nothing is opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mpc import sharing
from mpc.context import SessionContext
from mpc.errors import ProtocolError
from mpc.field import Field


async def sum_of_dealings(
    ctx: SessionContext,
    field: Field,
    dealt: Mapping[int, np.ndarray] | None,
    dealers: Sequence[int],
    degree: int,
    shape: tuple[int, ...],
    label: object,
) -> np.ndarray:
    """This party's share of the sum of the values the ``dealers`` dealt.

    A dealer passes what its compressed dealing returned (party -> share, for
    itself and the parties that are not its helpers); everyone else passes None.
    Every party must make the same call, with the same ``shape`` (one or more
    dimensions).
    """
    me, m = ctx.party, ctx.parties
    if (me in dealers) != (dealt is not None):
        raise ProtocolError(
            f"Party {me} must pass its dealing exactly when it is one of the dealers "
            f"{list(dealers)}."
        )
    outgoing = {p: s for p, s in (dealt or {}).items() if p != me}
    incoming = [
        d for d in dealers if d != me and me not in sharing.helpers(d, m, degree)
    ]
    got = await ctx.messenger.exchange(
        field, outgoing, incoming, rows=shape[0], tail=tuple(shape[1:])
    )

    total = field.zeros(shape)
    for dealer in dealers:
        if dealer == me and dealt is not None:
            part = dealt[me]
        elif dealer in got:
            part = got[dealer].reshape(shape)
        else:
            key = ctx.pair_keys[dealer]
            part = sharing.helper_share(field, dealer, me, shape, key, label)
        total = field.add(total, part)
    return total
