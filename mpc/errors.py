"""Exceptions shared by the whole project.

Every error this project raises on purpose derives from :class:`CrpError`, so that
entry points can report it as one clear sentence instead of a traceback. Messages
are full sentences that quote the bad public value and say what to do; they never
contain a share, a secret, an identifier or a value opened inside a protocol.
"""


class CrpError(Exception):
    """Base class of the errors raised on purpose by crp-mpc."""


class ProtocolError(CrpError):
    """An MPC protocol cannot go on: bad parameters, or parties that disagree."""


class SessionAborted(CrpError):
    """An MPC session ended early: a peer left, a deadline passed, or a check failed."""
