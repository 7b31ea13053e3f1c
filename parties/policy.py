"""A node's own policy: which requests it agrees to take part in.

Each partner writes a small TOML file next to its node configuration. Every key
is optional; :data:`POLICY_DEFAULTS` holds the defaults. Example::

    # Only this coordinator may ask (default: every coordinator the federation
    # lists).
    coordinators = ["council-researcher"]

    # Columns of our own file that a request may read (default: all of them).
    # The student number is always used for linkage and is not listed.
    columns = ["grade9_year", "income_quintile", "ossd_year"]

    # The smallest min_cell_size a request may ask for.
    min_cell_size = 10

    # Requests accepted in any 24 hours, counted from the audit log.
    max_requests_per_day = 50

    # Disclosure control a request must use.
    require_complementary = true   # complementary suppression and complements
    rounding_base = 0              # e.g. 5: requests must round to this base
    require_noise = false          # refuse requests without epsilon or rho
    max_epsilon = 2.0              # noise per request, at most this epsilon
    privacy_budget_rho = 4.0       # total zCDP budget over the node's lifetime

:meth:`Policy.check` raises :class:`~parties.errors.PolicyRefusal` naming the node
and the rule a request breaks.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parties.errors import ConfigError, PolicyRefusal
from parties.expressions import atoms, refs_of
from parties.federation import Federation
from parties.plan import Plan
from parties.request import Request

POLICY_DEFAULTS: dict[str, Any] = {
    "coordinators": None,  # None: every coordinator listed in the federation
    "columns": None,  # None: every column of the node's schema
    "min_cell_size": 10,
    "max_requests_per_day": 50,
    "require_complementary": True,
    "rounding_base": 0,
    "require_noise": False,
    "max_epsilon": 2.0,
    "privacy_budget_rho": 4.0,
}

RULES = tuple(POLICY_DEFAULTS)


@dataclass(frozen=True)
class Policy:
    """A node's policy, validated against the federation and its schema."""

    node: str
    coordinators: frozenset[str]
    columns: frozenset[str]
    min_cell_size: int
    max_requests_per_day: int
    require_complementary: bool = True
    rounding_base: int = 0
    require_noise: bool = False
    max_epsilon: float = 2.0
    privacy_budget_rho: float = 4.0
    source: str = "defaults"

    def check_coordinator(self, coordinator: str) -> None:
        """Refuse a coordinator this node does not take requests from."""
        if coordinator not in self.coordinators:
            allowed = ", ".join(sorted(self.coordinators)) or "(none)"
            raise _refuse(
                self.node,
                "coordinators",
                f"coordinator {coordinator!r} may not send requests here; "
                f"allowed: {allowed}",
            )

    def check(
        self,
        request: Request,
        plan: Plan,
        *,
        coordinator: str,
        accepted_last_day: int,
    ) -> None:
        """Raise :class:`PolicyRefusal` unless the request respects every rule.

        ``accepted_last_day`` is how many requests this node accepted in the last
        24 hours (see :meth:`parties.audit.AuditLog.accepted_since`).
        """
        self.check_coordinator(coordinator)

        forbidden = sorted(columns_read(plan, self.node) - self.columns)
        if forbidden:
            raise _refuse(
                self.node,
                "columns",
                f"the request reads column(s) {', '.join(map(repr, forbidden))} of "
                "this partner, which its policy does not allow",
            )

        asked = request.disclosure.min_cell_size
        if asked < self.min_cell_size:
            raise _refuse(
                self.node,
                "min_cell_size",
                f"the request asks for min_cell_size = {asked}, below this node's "
                f"minimum of {self.min_cell_size}",
            )

        self.check_disclosure(request)

        if accepted_last_day >= self.max_requests_per_day:
            raise _refuse(
                self.node,
                "max_requests_per_day",
                f"it has already accepted {accepted_last_day} request(s) in the last "
                f"24 hours, its limit is {self.max_requests_per_day}; try again later",
            )

    def check_disclosure(self, request: Request) -> None:
        """Refuse a request whose disclosure control is weaker than this node's."""
        rules = request.disclosure
        if self.require_complementary and not (
            rules.complementary and (rules.protect_complements or rules.noisy)
        ):
            raise _refuse(
                self.node,
                "require_complementary",
                "the request turns off complementary suppression or the protection "
                "of small complements, which this node requires",
            )
        if self.rounding_base and rules.rounding_base != self.rounding_base:
            raise _refuse(
                self.node,
                "rounding_base",
                f"the request rounds to base {rules.rounding_base or 'none'}, but this "
                f"node requires random rounding to base {self.rounding_base}",
            )
        if self.require_noise and not rules.noisy:
            raise _refuse(
                self.node,
                "require_noise",
                "the request adds no noise (epsilon or rho), which this node requires",
            )
        epsilon = rules.effective_epsilon()
        if epsilon is not None and epsilon > self.max_epsilon + 1e-12:
            raise _refuse(
                self.node,
                "max_epsilon",
                f"the request's noise has epsilon = {epsilon:.4g}, above this node's "
                f"maximum of {self.max_epsilon:g} per request",
            )


def _refuse(node: str, rule: str, reason: str) -> PolicyRefusal:
    return PolicyRefusal(
        f"Node {node} refuses the request (rule {rule}): {reason}.",
        node=node,
        rule=rule,
    )


def columns_read(plan: Plan, partner: str) -> set[str]:
    """The columns of ``partner``'s own file that a compiled request reads.

    They are the columns behind the partner's encoded features (population
    classes, dimension levels, the partner's columns inside ``exists``) and, for
    a population partner, the columns of the population filter.
    """
    encoding = plan.encodings.get(partner)
    if encoding is None:
        return set()
    columns: set[str] = set()
    for feature in encoding.features:
        # Any feature kind: its own column, and the partner's columns in its
        # condition (population columns there come from other partners).
        if feature.column:
            columns.add(feature.column)
        if feature.cond is not None:
            for atom in atoms(feature.cond):
                columns.update(
                    ref.column for ref in refs_of(atom) if ref.partner == partner
                )
    population = plan.request.population
    if encoding.is_population and population.where is not None:
        for atom in atoms(population.where):
            columns.update(ref.column for ref in refs_of(atom))
    return columns


def load_policy(
    path: str | Path | None,
    *,
    node: str,
    federation: Federation,
) -> Policy:
    """Read a policy file (or the defaults when ``path`` is None) and validate it."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"Policy file {source!r} does not exist.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"Policy file {source!r} is not valid TOML: {exc}."
            ) from exc
    return policy_from_dict(raw, node=node, federation=federation, source=source)


def policy_from_dict(
    raw: dict[str, Any],
    *,
    node: str,
    federation: Federation,
    source: str = "policy",
) -> Policy:
    """Validate a parsed policy; every message names ``source`` and the key."""
    unknown = sorted(set(raw) - set(POLICY_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(RULES)}."
        )
    values = {**POLICY_DEFAULTS, **raw}
    schema = federation.node(node).schema

    listed = {c.name for c in federation.coordinators}
    coordinators = _names(values["coordinators"], "coordinators", source)
    if coordinators is None:
        coordinators = listed
    strangers = sorted(coordinators - listed)
    if strangers:
        raise ConfigError(
            f"{source}: coordinators lists {', '.join(map(repr, strangers))}, which "
            f"federation {federation.name!r} does not list; a node only takes "
            "requests from the federation's coordinators."
        )

    declared = set(schema.columns) if schema is not None else set()
    columns = _names(values["columns"], "columns", source)
    if columns is None:
        columns = declared
    undeclared = sorted(columns - declared)
    if undeclared:
        known = ", ".join(sorted(declared)) or "(none: this node holds no records)"
        raise ConfigError(
            f"{source}: columns lists {', '.join(map(repr, undeclared))}, which this "
            f"node's schema does not declare; declared columns: {known}."
        )

    min_cell_size = _whole(values["min_cell_size"], "min_cell_size", source, 1)
    per_day = _whole(values["max_requests_per_day"], "max_requests_per_day", source, 0)
    rounding = _whole(values["rounding_base"], "rounding_base", source, 0)
    if rounding == 1 or rounding > 100:
        raise ConfigError(
            f"{source}: rounding_base = {rounding} must be 0 (no requirement) or a "
            "whole number from 2 to 100."
        )
    flags = {}
    for key in ("require_complementary", "require_noise"):
        if not isinstance(values[key], bool):
            raise ConfigError(f"{source}: {key} must be true or false.")
        flags[key] = values[key]
    numbers = {}
    for key in ("max_epsilon", "privacy_budget_rho"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(
                f"{source}: {key} = {value!r} must be a number of at least 0."
            )
        numbers[key] = float(value)
    return Policy(
        node=node,
        coordinators=frozenset(coordinators),
        columns=frozenset(columns),
        min_cell_size=min_cell_size,
        max_requests_per_day=per_day,
        require_complementary=flags["require_complementary"],
        rounding_base=rounding,
        require_noise=flags["require_noise"],
        max_epsilon=numbers["max_epsilon"],
        privacy_budget_rho=numbers["privacy_budget_rho"],
        source=source,
    )


def _names(value: Any, key: str, source: str) -> set[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: {key} must be a list of names, e.g. ['a', 'b'].")
    return set(value)


def _whole(value: Any, key: str, source: str, lowest: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
        raise ConfigError(
            f"{source}: {key} = {value!r} must be a whole number of at least {lowest}."
        )
    return value
