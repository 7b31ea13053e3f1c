"""The demonstration: synthetic partners, six parties, the standard tables.

``crp demo`` writes synthetic data for the four data partners, a federation of
six nodes on 127.0.0.1 (the four data partners and two compute-only partners),
runs the standard pathway table as one MPC session with one process per party,
checks nothing (it is a demo), prints the released table with the time it took,
and writes it as CSV.
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from pathlib import Path

import tomli_w

from parties.federation import load_federation
from parties.local import free_ports, run_local
from parties.synth import PARTNER_SCHEMAS, write_synthetic_data

logger = logging.getLogger(__name__)

DATA_PARTNERS = ("board_a", "board_b", "college", "university")
COMPUTE_PARTNERS = ("foundation", "council")
STANDARD_TABLE = "pathways_by_quintile"


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
    coordinators: tuple[str, ...] = ("council-researcher",),
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


def run_demo(out: Path, *, scale: float = 1.0, seed: int = 0) -> int:
    """Run the demonstration; returns the process exit status."""
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"Writing synthetic data for {', '.join(DATA_PARTNERS)} (scale {scale:g}) ..."
    )
    files = write_synthetic_data(out / "data", seed=seed, scale=scale)
    schemas = {
        name: f"data/schemas/{PARTNER_SCHEMAS[name]}.toml" for name in DATA_PARTNERS
    }
    federation_path = write_federation(
        out / "federation.toml", DATA_PARTNERS + COMPUTE_PARTNERS, schemas=schemas
    )
    federation = load_federation(federation_path)

    request_text = catalogue_text(STANDARD_TABLE)
    (out / f"{STANDARD_TABLE}.toml").write_text(request_text, encoding="utf-8")
    print(
        f"Running one MPC session among {len(federation.nodes)} party processes "
        f"(threshold {federation.effective_threshold}) ..."
    )
    last_phase: dict[str, str] = {}

    def show(node: str, phase: str) -> None:
        if node == DATA_PARTNERS[0] and last_phase.get(node) != phase:
            last_phase[node] = phase
            print(f"  phase: {phase}", flush=True)

    started = time.perf_counter()
    run = run_local(
        federation,
        {name: files[name] for name in DATA_PARTNERS},
        request_text,
        out / "session",
        on_phase=show,
    )
    elapsed = time.perf_counter() - started
    print()
    print(run.table.title)
    print(run.table.render())
    csv_path = run.table.to_csv(out / f"{STANDARD_TABLE}.csv")
    rows = sum(run.outputs[0]["row_counts"])
    print()
    print(
        f"Computed in {elapsed:.1f} s for {rows} input rows; cells marked x were "
        f"suppressed inside the MPC. Table written to {csv_path}."
    )
    return 0
