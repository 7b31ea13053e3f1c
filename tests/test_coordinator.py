"""Tests of the coordinator's identity files and progress line (no network).

Requests to real nodes are tested in ``test_federation_nodes.py``.
"""

from __future__ import annotations

import io
import shutil

import pytest

from parties.certs import write_federation_certificates
from parties.coordinator import (
    ProgressLine,
    default_identity,
    identity_from_prefix,
)
from parties.errors import ConfigError
from parties.federation import federation_from_dict


def _federation(tmp_path, coordinators):
    raw = {
        "federation": {"name": "test-fed"},
        "nodes": [
            {
                "name": n,
                "host": "127.0.0.1",
                "mpc_port": 9000 + i,
                "control_port": 9100 + i,
            }
            for i, n in enumerate(["alpha", "beta", "gamma"])
        ],
        "coordinators": [{"name": c} for c in coordinators],
    }
    federation = federation_from_dict(raw, base=tmp_path)
    federation.path = tmp_path / "federation.toml"
    return federation


def test_finds_the_only_coordinator_in_certs_beside_the_federation(tmp_path):
    federation = _federation(tmp_path, ["researcher"])
    write_federation_certificates(federation, tmp_path / "certs")

    identity = default_identity(federation)

    assert identity.name == "researcher"
    assert identity.certificate == tmp_path / "certs" / "coordinator-researcher.crt"
    assert identity.authority == tmp_path / "certs" / "ca.crt"


def test_asks_for_an_identity_when_several_coordinators_are_listed(tmp_path):
    federation = _federation(tmp_path, ["researcher", "auditor"])

    with pytest.raises(ConfigError, match=r"lists 2 coordinators; pass --identity"):
        default_identity(federation)


def test_an_identity_prefix_needs_the_authority_beside_it(tmp_path):
    federation = _federation(tmp_path, ["researcher"])
    write_federation_certificates(federation, tmp_path / "certs")
    (tmp_path / "mine").mkdir()
    for suffix in (".crt", ".key"):
        shutil.copy(
            tmp_path / "certs" / f"coordinator-researcher{suffix}", tmp_path / "mine"
        )

    with pytest.raises(ConfigError, match=r"mine/ca\.crt' does not exist"):
        identity_from_prefix(tmp_path / "mine" / "coordinator-researcher")


def test_a_node_certificate_is_no_coordinator_identity(tmp_path):
    federation = _federation(tmp_path, ["researcher"])
    write_federation_certificates(federation, tmp_path / "certs")

    with pytest.raises(ConfigError, match=r"does not name a coordinator"):
        identity_from_prefix(tmp_path / "certs" / "node-alpha")


def test_the_progress_line_shows_every_node_phase():
    stream = io.StringIO()
    progress = ProgressLine(stream, width=10)

    progress({"alpha": "submitted", "beta": "submitted"})
    progress({"alpha": "done", "beta": "done"})
    progress.close()

    first, last = stream.getvalue().splitlines()
    assert first.startswith("[----------]   0%  alpha:submitted  beta:submitted")
    assert last.startswith("[##########] 100%  alpha:done  beta:done")
