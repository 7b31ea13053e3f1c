"""Secure multiparty protocols for private record linkage and aggregate tables.

This package knows nothing of files, HTTP or certificates. The pure maths
(:mod:`mpc.field`, :mod:`mpc.prg`, :mod:`mpc.sharing`, :mod:`mpc.circuit`) sits
below the protocols that send messages (:mod:`mpc.shuffle`,
:mod:`mpc.pseudonyms`, :mod:`mpc.aggregate`, :mod:`mpc.disclosure`), which
:mod:`mpc.engine` runs in order.
"""

from mpc.errors import CrpError, ProtocolError, SessionAborted

__all__ = ["CrpError", "ProtocolError", "SessionAborted"]
