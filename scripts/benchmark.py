"""Benchmark whole MPC sessions against the plaintext reference.

For each target size (rows that enter the MPC, summed over the partners after
local preparation) and each party count, this writes synthetic data scaled to
hit the target, runs the standard table as one session with one process per
party on 127.0.0.1, checks the released table against the pandas reference,
and prints per phase: wall and CPU seconds, megabytes sent and peak memory per
party, next to the time the plaintext reference takes on pooled data.

    python scripts/benchmark.py                       # 30k, 100k, 300k; 4 and 6
    python scripts/benchmark.py --rows 300000 --parties 6 --repeat 3

With ``--repeat`` above 1 the figures are medians over the runs. The machine is
shared and noisy: quote medians and ratios, not single runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parties.data import load_partner_data  # noqa: E402
from parties.demo import catalogue_text, write_federation  # noqa: E402
from parties.encode import party_rows  # noqa: E402
from parties.federation import load_federation  # noqa: E402
from parties.local import run_local  # noqa: E402
from parties.plan import compile_plan  # noqa: E402
from parties.reference import reference_table  # noqa: E402
from parties.request import parse_request_text  # noqa: E402
from parties.synth import PARTNER_SCHEMAS, write_synthetic_data  # noqa: E402

DATA_PARTNERS = ("board_a", "board_b", "college", "university")
COMPUTE_PARTNERS = ("foundation", "council")
PHASES = ("input", "shuffle", "pseudonyms", "aggregation", "disclosure", "output")


def mpc_rows(folder: Path, request_text: str) -> int:
    """Rows that the data partners would input for this request."""
    federation = _federation(folder, DATA_PARTNERS)
    schemas = federation.schemas()
    plan = compile_plan(parse_request_text(request_text, schemas), schemas)
    total = 0
    for name in DATA_PARTNERS:
        frame = load_partner_data(folder / f"{name}.csv", schemas[name]).frame
        total += len(party_rows(plan, name, frame).keys)
    return total


def _federation(folder: Path, names: tuple[str, ...]):
    schemas = {
        n: f"schemas/{PARTNER_SCHEMAS[n]}.toml" for n in names if n in PARTNER_SCHEMAS
    }
    path = write_federation(
        folder / f"federation-{len(names)}.toml", names, schemas=schemas
    )
    return load_federation(path)


def run_once(
    folder: Path, parties: int, request_text: str, work: Path
) -> dict[str, Any]:
    names = DATA_PARTNERS + COMPUTE_PARTNERS[: parties - len(DATA_PARTNERS)]
    federation = _federation(folder, names)
    data = {n: folder / f"{n}.csv" for n in DATA_PARTNERS}
    started = time.perf_counter()
    run = run_local(federation, data, request_text, work, timeout=3600)
    wall = time.perf_counter() - started

    # The plaintext reference on pooled data, for the ratio and the check.
    ref_started = time.perf_counter()
    schemas = federation.schemas()
    frames = {n: load_partner_data(p, schemas[n]).frame for n, p in data.items()}
    request = parse_request_text(request_text, schemas)
    expected = reference_table(request, frames, schemas=schemas)
    reference_seconds = time.perf_counter() - ref_started
    return {
        "parties": parties,
        "rows": sum(run.outputs[0]["row_counts"]),
        "session_wall_s": wall,
        "reference_s": reference_seconds,
        "exact": run.table.same_release(expected),
        "phases": {p: run.outputs[p]["phases"] for p in run.outputs},
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repeated runs of the per-phase figures."""
    first = runs[0]
    out: dict[str, Any] = {
        "parties": first["parties"],
        "rows": first["rows"],
        "session_wall_s": statistics.median(r["session_wall_s"] for r in runs),
        "reference_s": statistics.median(r["reference_s"] for r in runs),
        "exact": all(r["exact"] for r in runs),
        "phases": {},
    }
    for phase in PHASES:
        figures = []
        for run in runs:
            per_party = [
                next(p for p in phases if p["phase"] == phase)
                for phases in run["phases"].values()
            ]
            figures.append(
                {
                    "wall_s": max(p["wall_s"] for p in per_party),
                    "cpu_s_mean": statistics.mean(p["cpu_s"] for p in per_party),
                    "cpu_s_max": max(p["cpu_s"] for p in per_party),
                    "mb_sent_max": max(p["bytes_sent"] for p in per_party) / 1e6,
                    "mb_sent_total": sum(p["bytes_sent"] for p in per_party) / 1e6,
                    "peak_mb_max": max(p["peak_rss_bytes"] for p in per_party) / 1e6,
                }
            )
        out["phases"][phase] = {
            key: statistics.median(f[key] for f in figures) for key in figures[0]
        }
    return out


def print_summary(summary: dict[str, Any]) -> None:
    print(
        f"\n{summary['rows']:,} rows, {summary['parties']} parties: session "
        f"{summary['session_wall_s']:.1f} s wall (median), plaintext reference "
        f"{summary['reference_s']:.2f} s, ratio "
        f"{summary['session_wall_s'] / max(summary['reference_s'], 1e-9):.0f}x, "
        f"exact: {summary['exact']}"
    )
    print(
        f"  {'phase':<12}{'wall s':>8}{'CPU s mean':>12}{'CPU s max':>11}"
        f"{'MB sent max':>13}{'MB sent all':>13}{'peak MB max':>13}"
    )
    for phase, f in summary["phases"].items():
        print(
            f"  {phase:<12}{f['wall_s']:>8.2f}{f['cpu_s_mean']:>12.2f}"
            f"{f['cpu_s_max']:>11.2f}{f['mb_sent_max']:>13.1f}"
            f"{f['mb_sent_total']:>13.1f}{f['peak_mb_max']:>13.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="30000,100000,300000")
    parser.add_argument("--parties", default="4,6")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--table", default="pathways_by_quintile")
    args = parser.parse_args(argv)

    request_text = catalogue_text(args.table)
    targets = [int(x) for x in args.rows.split(",")]
    party_counts = [int(x) for x in args.parties.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)

    # Calibrate: rows entering the MPC per unit of synthetic scale.
    calibration = args.out / "calibration"
    write_synthetic_data(calibration, seed=1, scale=0.5)
    per_scale = mpc_rows(calibration, request_text) / 0.5
    print(f"Calibration: {per_scale:,.0f} MPC input rows per unit of scale.")

    results = []
    for target in targets:
        scale = target / per_scale
        folder = args.out / f"data-{target}"
        write_synthetic_data(folder, seed=1, scale=scale)
        for parties in party_counts:
            runs = [
                run_once(
                    folder,
                    parties,
                    request_text,
                    args.out / f"work-{target}-{parties}-{i}",
                )
                for i in range(args.repeat)
            ]
            summary = summarise(runs)
            print_summary(summary)
            results.append(summary)
    (args.out / "benchmark.json").write_text(json.dumps(results, indent=2))
    print(f"\nAll figures written to {args.out / 'benchmark.json'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
