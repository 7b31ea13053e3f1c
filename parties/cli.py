"""The ``crp`` command line.

Subcommands use long, kebab-case options only, and MPyC never sees this
command line (it is imported later, with a blank one, by :mod:`mpc.runtime`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mpc.errors import CrpError

# The demo's data size: about half the default synthetic partners, so that the
# eight catalogue tables take a few minutes on a small machine.
DEMO_SCALE = 0.5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crp",
        description="Private pathway tables for a community research partnership.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write synthetic partner files")
    synth.add_argument("--out", required=True, type=Path, help="output folder")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--scale", type=float, default=1.0, help="size factor")
    synth.add_argument("--format", choices=("csv", "parquet"), default="csv")

    run = sub.add_parser(
        "run", help="run one request with one local process per node (no nodes)"
    )
    run.add_argument("--federation", required=True, type=Path)
    run.add_argument("--table", required=True, type=Path, help="request TOML file")
    run.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="NODE=FILE",
        help="a data partner's file (repeat per partner)",
    )
    run.add_argument("--out", type=Path, default=Path("crp-output"))

    certs = sub.add_parser(
        "certs", help="make the federation's authority and every member's key"
    )
    certs.add_argument("--federation", required=True, type=Path)
    certs.add_argument("--out", required=True, type=Path, help="an empty folder")

    node = sub.add_parser("node", help="run this partner's node until stopped")
    node.add_argument("--config", required=True, type=Path, help="node TOML file")

    request = sub.add_parser(
        "request", help="ask every node of the federation for one table"
    )
    request.add_argument("--federation", required=True, type=Path)
    request.add_argument("--table", required=True, type=Path, help="request TOML")
    request.add_argument("--out", type=Path, default=Path("crp-output"))
    request.add_argument(
        "--identity",
        type=Path,
        metavar="PREFIX",
        help="coordinator files PREFIX.crt and PREFIX.key, with ca.crt beside them "
        "(default: certs/ beside the federation file, for its only coordinator)",
    )
    request.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds (default 3600)"
    )

    report = sub.add_parser(
        "report", help="request the catalogue of standard tables, write the report"
    )
    report.add_argument("--federation", required=True, type=Path)
    report.add_argument("--out", type=Path, default=Path("crp-report"))
    report.add_argument(
        "--identity",
        type=Path,
        metavar="PREFIX",
        help="coordinator files PREFIX.crt and PREFIX.key (as for crp request)",
    )

    demo = sub.add_parser(
        "demo", help="synthetic data, six nodes, the standard tables and the report"
    )
    demo.add_argument("--out", type=Path, default=Path("demo-output"))
    demo.add_argument(
        "--scale", type=float, default=DEMO_SCALE, help=f"default {DEMO_SCALE:g}"
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--tables",
        default="all",
        help="comma-separated catalogue names, or 'all' (default) for the report",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from parties.logs import configure_logging

    configure_logging("crp", "WARNING")
    try:
        if args.command == "synth":
            from parties.synth import write_synthetic_data

            files = write_synthetic_data(
                args.out, seed=args.seed, scale=args.scale, fmt=args.format
            )
            for name, path in files.items():
                print(f"{name}: {path}")
            return 0
        if args.command == "run":
            return _run(args)
        if args.command == "certs":
            return _certs(args)
        if args.command == "node":
            from parties.control import run_node

            return run_node(args.config)
        if args.command == "request":
            from parties.coordinator import run_request

            return run_request(
                args.federation,
                args.table,
                args.out,
                identity_prefix=args.identity,
                timeout=args.timeout,
            )
        if args.command == "report":
            from parties.report import report_main

            return report_main(args.federation, args.out, args.identity)
        if args.command == "demo":
            from parties.demo import run_demo
            from parties.report import CATALOGUE

            tables = (
                CATALOGUE if args.tables == "all" else tuple(args.tables.split(","))
            )
            return run_demo(args.out, scale=args.scale, seed=args.seed, tables=tables)
    except CrpError as exc:
        print(f"crp {args.command}: {exc}", file=sys.stderr)
        return 2
    return 2


def _certs(args: argparse.Namespace) -> int:
    from parties.certs import write_federation_certificates
    from parties.federation import load_federation

    federation = load_federation(args.federation)
    written = write_federation_certificates(federation, args.out)
    print(f"Wrote {len(written)} files to {args.out}:")
    for path in written:
        print(f"  {path.name}")
    print(
        "Give each partner ca.crt and its own node-NAME.crt and node-NAME.key; "
        "keep ca.key offline."
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from parties.federation import load_federation
    from parties.local import run_local

    federation = load_federation(args.federation)
    data = {}
    for item in args.data:
        name, sep, path = item.partition("=")
        if not sep:
            raise CrpError(f"--data {item!r} must look like NODE=FILE.")
        federation.node(name)
        data[name] = Path(path)
    text = args.table.read_text(encoding="utf-8")
    run = run_local(federation, data, text, args.out / "session")
    print(run.table.render())
    path = run.table.to_csv(args.out / f"{run.table.name}.csv")
    print(f"Written to {path} in {run.wall_seconds:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
