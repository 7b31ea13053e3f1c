"""The demonstration: synthetic partners, six node processes, the standard tables.

``crp demo`` writes synthetic data for the four data partners, certificates, a
configuration and a policy per node, and a federation of six nodes on
127.0.0.1 (the four data partners and two compute-only partners). It starts the
six ``crp node`` processes, asks them for the standard tables through the
coordinator (:func:`parties.coordinator.request_table`), prints each table with
the time it took, writes it as CSV, and stops the nodes, also after an error or
Ctrl-C. Everything lands in the output folder::

    federation.toml       data/          certs/
    nodes/NAME/node.toml  nodes/NAME/policy.toml  nodes/NAME/audit.jsonl
    logs/NAME.log         TABLE.toml     TABLE.csv
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w

from parties.certs import AUTHORITY_FILE, member_paths, write_federation_certificates
from parties.coordinator import (
    CoordinatorIdentity,
    ProgressLine,
    default_identity,
    request_table,
)
from parties.federation import Federation, load_federation
from parties.launch import LocalNodes
from parties.local import free_ports
from parties.policy import POLICY_DEFAULTS
from parties.synth import PARTNER_SCHEMAS, write_synthetic_data
from parties.table import ReleasedTable

logger = logging.getLogger(__name__)

DATA_PARTNERS = ("board_a", "board_b", "college", "university")
COMPUTE_PARTNERS = ("foundation", "council")
COORDINATOR = "council-researcher"
STANDARD_TABLE = "pathways_by_quintile"
STANDARD_TABLES = (STANDARD_TABLE,)


def catalogue_text(name: str) -> str:
    """The TOML text of a request shipped with the package."""
    return (
        resources.files("parties")
        .joinpath(f"catalogue/{name}.toml")
        .read_text(encoding="utf-8")
    )


def write_federation(
    path: Path,
    names: tuple[str, ...],
    *,
    schemas: dict[str, str],
    host: str = "127.0.0.1",
    coordinators: tuple[str, ...] = (COORDINATOR,),
) -> Path:
    """Write a federation file for nodes on one host with free ports."""
    ports = free_ports(2 * len(names), host)
    nodes = []
    for i, name in enumerate(names):
        node = {
            "name": name,
            "host": host,
            "mpc_port": ports[2 * i],
            "control_port": ports[2 * i + 1],
        }
        if name in schemas:
            node["schema"] = schemas[name]
        nodes.append(node)
    document = {
        "federation": {"name": "crp-demo"},
        "nodes": nodes,
        "coordinators": [{"name": c} for c in coordinators],
    }
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


@dataclass
class DemoFederation:
    """The files of a local federation: where everything was written."""

    folder: Path
    federation: Federation
    configs: dict[str, Path]
    data: dict[str, Path]
    identity: CoordinatorIdentity

    def nodes(self) -> LocalNodes:
        """The node processes (not started yet)."""
        return LocalNodes(self.federation, self.configs, self.folder / "logs")


def write_demo_federation(
    out: Path,
    *,
    names: tuple[str, ...] = DATA_PARTNERS + COMPUTE_PARTNERS,
    scale: float = 1.0,
    seed: int = 0,
    host: str = "127.0.0.1",
    policies: dict[str, dict[str, Any]] | None = None,
    sessions: dict[str, float] | None = None,
) -> DemoFederation:
    """Write data, federation, certificates and node files for a local federation.

    ``policies`` overrides policy keys per node name; ``sessions`` overrides the
    ``[sessions]`` timeouts of every node.
    """
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # A demo starts from scratch: certificates, node folders and logs of an
    # earlier run in the same folder are replaced.
    for folder in ("certs", "nodes", "logs"):
        shutil.rmtree(out / folder, ignore_errors=True)
    files = write_synthetic_data(out / "data", seed=seed, scale=scale)
    schemas = {
        name: f"data/schemas/{PARTNER_SCHEMAS[name]}.toml"
        for name in names
        if name in DATA_PARTNERS
    }
    federation_path = write_federation(
        out / "federation.toml", names, schemas=schemas, host=host
    )
    federation = load_federation(federation_path)
    certs = out / "certs"
    write_federation_certificates(federation, certs)

    configs = {}
    for name in names:
        node_folder = out / "nodes" / name
        node_folder.mkdir(parents=True, exist_ok=True)
        policy = {k: v for k, v in POLICY_DEFAULTS.items() if v is not None}
        policy.update((policies or {}).get(name, {}))
        policy_text = tomli_w.dumps(policy)
        (node_folder / "policy.toml").write_text(policy_text, encoding="utf-8")

        certificate, key = member_paths(certs, "node", name)
        document: dict[str, Any] = {
            "node": {
                "name": name,
                "federation": "../../federation.toml",
                "policy": "policy.toml",
                "audit_log": "audit.jsonl",
                "state_dir": "state",
            },
            "tls": {
                "certificate": f"../../certs/{certificate.name}",
                "key": f"../../certs/{key.name}",
                "authority": f"../../certs/{AUTHORITY_FILE}",
            },
        }
        if name in files and name in schemas:
            document["node"]["data"] = f"../../data/{files[name].name}"
        if sessions:
            document["sessions"] = dict(sessions)
        configs[name] = node_folder / "node.toml"
        configs[name].write_text(tomli_w.dumps(document), encoding="utf-8")

    return DemoFederation(
        folder=out,
        federation=federation,
        configs=configs,
        data={name: files[name] for name in schemas},
        identity=default_identity(federation),
    )


@dataclass
class DemoTable:
    """One table the demo obtained, how long it took and where it was written."""

    name: str
    table: ReleasedTable
    seconds: float
    csv: Path


def request_demo_tables(
    demo: DemoFederation, tables: tuple[str, ...] = STANDARD_TABLES
) -> list[DemoTable]:
    """Start the nodes, ask for each catalogue table in turn, stop the nodes.

    The standard table is printed in full; the others with their title and time.
    """
    results = []
    with demo.nodes() as nodes:
        print(f"Starting {len(nodes.nodes)} nodes (logs in {demo.folder / 'logs'}) ...")
        nodes.start_all()
        nodes.wait_ready(demo.identity, timeout=600.0)
        print(f"All nodes are ready; threshold {demo.federation.effective_threshold}.")
        for name in tables:
            text = catalogue_text(name)
            (demo.folder / f"{name}.toml").write_text(text, encoding="utf-8")
            print(f"\nRequesting {name} as coordinator {demo.identity.name} ...")
            progress = ProgressLine()
            started = time.perf_counter()
            try:
                table = request_table(
                    demo.federation, text, identity=demo.identity, on_progress=progress
                )
            finally:
                progress.close()
            elapsed = time.perf_counter() - started
            csv_path = table.to_csv(demo.folder / f"{name}.csv")
            print()
            print(table.title)
            if name == STANDARD_TABLE or len(tables) == 1:
                print(table.render())
            print(
                f"Computed in {elapsed:.1f} s; cells marked x were suppressed "
                f"inside the MPC. Table written to {csv_path}."
            )
            results.append(DemoTable(name, table, elapsed, csv_path))
        print("\nStopping the nodes ...")
    return results


def run_demo(
    out: Path,
    *,
    scale: float = 1.0,
    seed: int = 0,
    tables: tuple[str, ...] = STANDARD_TABLES,
) -> int:
    """Run the demonstration; returns the process exit status."""
    print(
        f"Writing synthetic data for {', '.join(DATA_PARTNERS)} (scale {scale:g}), "
        "certificates and node files ..."
    )
    started = time.perf_counter()
    demo = write_demo_federation(out, scale=scale, seed=seed)
    ordered = tuple(sorted(tables, key=lambda name: name != STANDARD_TABLE))
    try:
        results = request_demo_tables(demo, ordered)
    except KeyboardInterrupt:
        print("\nInterrupted; every node was stopped.")
        return 130

    from parties.report import build_report
    from parties.request import parse_request_text

    schemas = demo.federation.schemas()
    pairs = [
        (parse_request_text(catalogue_text(r.name), schemas), r.table) for r in results
    ]
    report = build_report(
        pairs,
        out / "report",
        notes=[f"Synthetic data (scale {scale:g}), computed by six MPC nodes."],
    )
    print(
        f"\nDone: {len(results)} table(s) in {time.perf_counter() - started:.0f} s. "
        f"Report: {report}"
    )
    return 0
