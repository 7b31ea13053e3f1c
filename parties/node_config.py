"""A node's configuration file: who it is, where its files are, how long sessions run.

Each partner writes one ``node.toml``. Paths are relative to the file's folder.
Example (a data partner; a compute-only node leaves out ``data``)::

    [node]
    name = "board_a"                  # must be a node of the federation
    federation = "federation.toml"
    data = "data/board_a.csv"         # CSV or Parquet, checked against the schema
    policy = "policy.toml"            # optional; defaults in parties.policy
    audit_log = "audit/board_a.jsonl"
    state_dir = "state"               # private session folders (mode 0700)
    log_level = "INFO"

    [tls]
    certificate = "certs/node-board_a.crt"
    key = "certs/node-board_a.key"
    authority = "certs/ca.crt"

    [sessions]
    connect_timeout = 15              # seconds for all parties to connect
    step_timeout = 300                # seconds any one protocol step may wait
    deadline = 3600                   # seconds a whole session may take

The node listens on the host and ``control_port`` the federation gives it, and
its sessions on ``mpc_port``. :data:`NODE_DEFAULTS` holds every default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parties.errors import ConfigError

REQUIRED = object()

NODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "node": {
        "name": REQUIRED,
        "federation": REQUIRED,
        "data": None,
        "policy": None,
        "audit_log": "audit.jsonl",
        "state_dir": "state",
        "log_level": "INFO",
    },
    "tls": {
        "certificate": REQUIRED,
        "key": REQUIRED,
        "authority": REQUIRED,
    },
    "sessions": {
        "connect_timeout": 15.0,
        "step_timeout": 300.0,
        "deadline": 3600.0,
    },
}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class NodeConfig:
    """A validated node configuration; every path is absolute."""

    name: str
    source: Path
    federation: Path
    data: Path | None
    policy: Path | None
    audit_log: Path
    state_dir: Path
    log_level: str
    certificate: Path
    key: Path
    authority: Path
    connect_timeout: float
    step_timeout: float
    deadline: float


def load_node_config(path: str | Path) -> NodeConfig:
    """Read and validate a node configuration file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Node configuration {str(path)!r} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Node configuration {str(path)!r} is not valid TOML: {exc}."
        ) from exc
    return node_config_from_dict(raw, source=path)


def node_config_from_dict(raw: dict[str, Any], *, source: Path) -> NodeConfig:
    """Validate a parsed node configuration; paths are relative to ``source``."""
    where = str(source)
    base = source.resolve().parent
    unknown = sorted(set(raw) - set(NODE_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown table(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(NODE_DEFAULTS)}."
        )

    # Merge every table with its defaults; required keys must be present.
    values: dict[str, dict[str, Any]] = {}
    for table, defaults in NODE_DEFAULTS.items():
        given = raw.get(table, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: [{table}] must be a table.")
        extra = sorted(set(given) - set(defaults))
        if extra:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(extra)} in [{table}]; allowed: "
                f"{', '.join(defaults)}."
            )
        merged = {**defaults, **given}
        for key, value in merged.items():
            if value is REQUIRED:
                raise ConfigError(f"{where}: [{table}] {key} is required.")
        values[table] = merged
    node, sessions = values["node"], values["sessions"]

    def file(table: str, key: str, *, must_exist: bool = True) -> Path:
        value = values[table][key]
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: [{table}] {key} must be a path.")
        resolved = (base / value).resolve()
        if must_exist and not resolved.is_file():
            raise ConfigError(
                f"{where}: [{table}] {key} = {value!r} names no file (looked for "
                f"{str(resolved)!r})."
            )
        return resolved

    name = node["name"]
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: [node] name must be the node's federation name.")
    level = str(node["log_level"]).upper()
    if level not in LOG_LEVELS:
        raise ConfigError(
            f"{where}: [node] log_level = {node['log_level']!r} must be one of "
            f"{', '.join(LOG_LEVELS)}."
        )
    timeouts = {}
    for key in NODE_DEFAULTS["sessions"]:
        value = sessions[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(
                f"{where}: [sessions] {key} = {value!r} must be a positive number of "
                "seconds."
            )
        timeouts[key] = float(value)

    return NodeConfig(
        name=name,
        source=source.resolve(),
        federation=file("node", "federation"),
        data=file("node", "data") if node["data"] is not None else None,
        policy=file("node", "policy") if node["policy"] is not None else None,
        audit_log=file("node", "audit_log", must_exist=False),
        state_dir=file("node", "state_dir", must_exist=False),
        log_level=level,
        certificate=file("tls", "certificate"),
        key=file("tls", "key"),
        authority=file("tls", "authority"),
        **timeouts,
    )
