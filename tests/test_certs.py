"""Tests of the federation's certificate authority and member certificates."""

from __future__ import annotations

import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from parties.certs import (
    create_authority,
    identity_uri,
    issue_certificate,
    member_paths,
    write_federation_certificates,
)
from parties.errors import ConfigError
from parties.federation import federation_from_dict


def _federation(tmp_path):
    raw = {
        "federation": {"name": "test-fed"},
        "nodes": [
            {
                "name": "alpha",
                "host": "127.0.0.1",
                "mpc_port": 9001,
                "control_port": 9101,
            },
            {"name": "beta", "host": "::1", "mpc_port": 9002, "control_port": 9102},
            {
                "name": "gamma",
                "host": "localhost",
                "mpc_port": 9003,
                "control_port": 9103,
            },
        ],
        "coordinators": [{"name": "researcher"}],
    }
    return federation_from_dict(raw, base=tmp_path)


def _load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def _uris(certificate):
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return san.value.get_values_for_type(x509.UniformResourceIdentifier)


def test_writes_an_authority_and_a_key_pair_per_member(tmp_path):
    federation = _federation(tmp_path)

    written = write_federation_certificates(federation, tmp_path / "certs")

    names = sorted(path.name for path in written)
    assert names == sorted(
        [
            "ca.crt",
            "ca.key",
            "node-alpha.crt",
            "node-alpha.key",
            "node-beta.crt",
            "node-beta.key",
            "node-gamma.crt",
            "node-gamma.key",
            "coordinator-researcher.crt",
            "coordinator-researcher.key",
        ]
    )


def test_keys_are_readable_by_their_owner_only(tmp_path):
    write_federation_certificates(_federation(tmp_path), tmp_path / "certs")

    keys = sorted((tmp_path / "certs").glob("*.key"))

    assert keys
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_member_certificates_name_their_holder_and_chain_to_the_authority(tmp_path):
    write_federation_certificates(_federation(tmp_path), tmp_path / "certs")
    authority = _load(tmp_path / "certs" / "ca.crt")

    node = _load(tmp_path / "certs" / "node-alpha.crt")
    coordinator = _load(tmp_path / "certs" / "coordinator-researcher.crt")

    node.verify_directly_issued_by(authority)
    coordinator.verify_directly_issued_by(authority)
    common_name = node.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == "alpha"
    assert _uris(node) == ["urn:crp:node:alpha"]
    assert _uris(coordinator) == ["urn:crp:coordinator:researcher"]


def test_node_certificates_carry_the_node_host_for_https_checks(tmp_path):
    write_federation_certificates(_federation(tmp_path), tmp_path / "certs")

    def san(name):
        certificate = _load(tmp_path / "certs" / f"node-{name}.crt")
        return certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value

    assert san("alpha").get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1")
    ]
    assert san("beta").get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("::1")
    ]
    assert san("gamma").get_values_for_type(x509.DNSName) == ["localhost"]


def test_only_nodes_may_act_as_servers(tmp_path):
    key, authority = create_authority("test-fed")

    _, node = issue_certificate(key, authority, "node", "alpha", hosts=("127.0.0.1",))
    _, coordinator = issue_certificate(key, authority, "coordinator", "researcher")

    def usages(certificate):
        return list(
            certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        )

    assert ExtendedKeyUsageOID.SERVER_AUTH in usages(node)
    assert ExtendedKeyUsageOID.SERVER_AUTH not in usages(coordinator)
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages(coordinator)


def test_refuses_to_overwrite_existing_certificates(tmp_path):
    federation = _federation(tmp_path)
    write_federation_certificates(federation, tmp_path / "certs")

    with pytest.raises(ConfigError, match=r"already holds ca\.crt.*choose an empty"):
        write_federation_certificates(federation, tmp_path / "certs")


def test_member_file_names_keep_roles_apart(tmp_path):
    node_files = member_paths(tmp_path, "node", "council")
    coordinator_files = member_paths(tmp_path, "coordinator", "council")

    assert node_files[0].name == "node-council.crt"
    assert coordinator_files[1].name == "coordinator-council.key"


def test_rejects_an_unknown_role():
    with pytest.raises(ConfigError, match=r"Role 'admin' is unknown"):
        identity_uri("admin", "root")
