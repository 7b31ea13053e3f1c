"""Run one MPC primitive among real party processes, for statistical tests.

Usage (one process per party): ``python tests/mpc_harness.py SPEC.json``. The spec
names the party, the addresses, a scenario and its parameters; the process writes
the values it opened as JSON. Scenarios:

* ``round``: every party holds ``count`` copies of ``value`` (shared with a
  constant polynomial) and rounds them with the MPC's random rounding.
* ``noise``: every party contributes joint discrete Laplace noise to ``count``
  zeros, and the noisy values are opened.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from mpc import disclosure  # noqa: E402
from mpc.context import SessionContext, Transcript, agree_keys  # noqa: E402
from mpc.engine import run_blocking  # noqa: E402
from mpc.field import SMALL  # noqa: E402
from mpc.runtime import PeerAddress, connect, create_runtime, disconnect  # noqa: E402
from mpc.transport import Messenger  # noqa: E402


async def _scenario(runtime, spec):
    await connect(runtime, timeout=30)
    messenger = Messenger(runtime, timeout=60)
    pair_keys, set_keys = await agree_keys(messenger, [])
    ctx = SessionContext(
        party=runtime.pid,
        parties=len(runtime.parties),
        threshold=runtime.threshold,
        messenger=messenger,
        pair_keys=pair_keys,
        own_key=secrets.token_bytes(32),
        set_keys=set_keys,
        transcript=Transcript(),
        runtime=runtime,
    )
    count = int(spec["count"])
    if spec["scenario"] == "round":
        shares = SMALL.from_ints(
            np.full((count, 1), int(spec["value"]), dtype=np.int64)
        )
        secint = disclosure.secure_integers(runtime)
        values = disclosure.to_secure(runtime, shares)
        rounded = await disclosure._round(runtime, secint, values, int(spec["base"]))
        opened = await disclosure.open_public(runtime, rounded)
    else:
        zeros = SMALL.zeros((count, 1))
        noisy = await disclosure.add_joint_noise(ctx, zeros, float(spec["alpha"]))
        opened = await disclosure.open_public(
            runtime, disclosure.to_secure(runtime, noisy)
        )
    await disconnect(runtime)
    return opened.reshape(-1).tolist()


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    addresses = [PeerAddress(h, int(p)) for h, p in spec["addresses"]]
    runtime = create_runtime(int(spec["party"]), addresses, None)
    values = run_blocking(_scenario(runtime, spec), runtime)
    Path(spec["output"]).write_text(json.dumps(values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
