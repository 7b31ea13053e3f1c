"""The federation file: which nodes exist, where they listen, what they hold.

Every partner and the coordinator keep the same ``federation.toml``. It is public:
names, addresses, ports, certificate names and the schemas of the data partners.
Paths in it are relative to the file's own folder. Example::

    [federation]
    name = "crp-demo"
    # threshold = 2        # optional; default (nodes - 1) // 2

    [[nodes]]
    name = "board_a"
    host = "127.0.0.1"
    control_port = 8401
    mpc_port = 9401
    schema = "schemas/board.toml"     # omit for compute-only nodes

    [[coordinators]]
    name = "council"

The order of ``[[nodes]]`` fixes each node's party index in every session.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parties.errors import ConfigError, reject_unknown_keys
from parties.schema import Schema, load_schema

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,62}$")


@dataclass(frozen=True)
class NodeInfo:
    """One node of the federation, as everybody knows it."""

    name: str
    index: int
    host: str
    mpc_port: int
    control_port: int
    schema: Schema | None = None
    schema_path: Path | None = None

    @property
    def holds_records(self) -> bool:
        return self.schema is not None


@dataclass(frozen=True)
class CoordinatorInfo:
    """A coordinator the nodes accept requests from."""

    name: str


@dataclass
class Federation:
    """The parsed federation file."""

    name: str
    nodes: list[NodeInfo]
    coordinators: list[CoordinatorInfo] = field(default_factory=list)
    threshold: int | None = None
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_threshold(self) -> int:
        return (len(self.nodes) - 1) // 2 if self.threshold is None else self.threshold

    def node(self, name: str) -> NodeInfo:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise ConfigError(
            f"Node {name!r} is not in federation {self.name!r}; its nodes are: {known}."
        )

    def schemas(self) -> dict[str, Schema]:
        """Schemas of the nodes that hold records, by node name."""
        return {n.name: n.schema for n in self.nodes if n.schema is not None}


def load_federation(path: str | Path) -> Federation:
    """Read and validate a federation file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Federation file {str(path)!r} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Federation file {str(path)!r} is not valid TOML: {exc}."
        ) from exc
    federation = federation_from_dict(raw, base=path.parent, source=str(path))
    federation.path = path.resolve()
    return federation


def federation_from_dict(
    raw: dict[str, Any], *, base: Path, source: str = "federation"
) -> Federation:
    """Build a federation from parsed TOML; paths are resolved against ``base``."""
    _no_unknown(raw, {"federation", "nodes", "coordinators"}, source)
    head = raw.get("federation", {})
    if not isinstance(head, dict):
        raise ConfigError(f"{source}: [federation] must be a table.")
    _no_unknown(head, {"name", "threshold"}, f"{source} [federation]")
    name = str(head.get("name", "federation"))

    specs = raw.get("nodes")
    if not isinstance(specs, list) or not specs:
        raise ConfigError(f"{source}: list the nodes as [[nodes]] tables.")
    nodes: list[NodeInfo] = []
    seen_names: set[str] = set()
    seen_ports: set[tuple[str, int]] = set()
    for index, spec in enumerate(specs):
        where = f"{source}: nodes[{index}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be a table.")
        _no_unknown(spec, {"name", "host", "control_port", "mpc_port", "schema"}, where)
        node_name = spec.get("name")
        if not isinstance(node_name, str) or not _NAME.match(node_name):
            raise ConfigError(
                f"{where}: name {node_name!r} must start with a letter and use only "
                "letters, digits, '_' and '-'."
            )
        if node_name in seen_names:
            raise ConfigError(f"{where}: node name {node_name!r} is used twice.")
        seen_names.add(node_name)
        host = str(spec.get("host", "127.0.0.1"))
        _check_host(host, where)
        ports = []
        for key in ("mpc_port", "control_port"):
            port = spec.get(key)
            if not isinstance(port, int) or not 1 <= port <= 65535:
                raise ConfigError(f"{where}: {key} = {port!r} must be a port number.")
            if (host, port) in seen_ports:
                raise ConfigError(f"{where}: port {port} on {host} is already taken.")
            seen_ports.add((host, port))
            ports.append(port)
        schema = None
        schema_path = None
        if spec.get("schema"):
            schema_path = (base / str(spec["schema"])).resolve()
            schema = load_schema(schema_path)
        nodes.append(
            NodeInfo(node_name, index, host, ports[0], ports[1], schema, schema_path)
        )

    threshold = head.get("threshold")
    if threshold is not None and (
        not isinstance(threshold, int)
        or not 1 <= threshold
        or 2 * threshold >= len(nodes)
    ):
        raise ConfigError(
            f"{source}: threshold = {threshold!r} must be at least 1 and below half "
            f"of the {len(nodes)} nodes."
        )
    if len(nodes) < 3:
        raise ConfigError(
            f"{source}: a federation needs at least 3 nodes so that an honest "
            f"majority exists; it lists {len(nodes)}."
        )

    coordinators = []
    for index, spec in enumerate(raw.get("coordinators", [])):
        where = f"{source}: coordinators[{index}]"
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigError(f"{where} needs a name.")
        _no_unknown(spec, {"name"}, where)
        coordinators.append(CoordinatorInfo(spec["name"]))
    return Federation(name, nodes, coordinators, threshold, None, raw)


def _check_host(host: str, where: str) -> None:
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if host != "localhost" and not re.match(r"^[A-Za-z0-9.\-]+$", host):
        raise ConfigError(f"{where}: host {host!r} is not an address or a host name.")


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    reject_unknown_keys(table, allowed, where, ConfigError)
