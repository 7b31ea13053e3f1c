"""Errors raised by the party-side code, all under :class:`mpc.errors.CrpError`."""

from typing import Any

from mpc.errors import CrpError


class ConfigError(CrpError):
    """A configuration file (schema, node, federation, policy) is invalid."""


class DataError(CrpError):
    """A partner's data file does not match its declared schema."""


class RequestError(CrpError):
    """A table request is malformed or refers to columns that do not exist."""


class PolicyRefusal(CrpError):
    """A node refuses a request because its own policy forbids it.

    ``node`` names the refusing node and ``rule`` the policy rule (or access
    rule) the request breaks.
    """

    def __init__(self, message: str, *, node: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.rule = rule


def reject_unknown_keys(
    table: dict[str, Any], allowed: set[str], where: str, error: type[CrpError]
) -> None:
    """Raise ``error`` naming ``where`` if ``table`` has keys outside ``allowed``."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise error(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys are "
            f"{', '.join(sorted(allowed))}."
        )
