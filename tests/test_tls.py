"""Tests of TLS contexts and of reading a certificate's holder."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from parties.certs import (
    create_authority,
    issue_certificate,
    member_paths,
    write_certificate,
    write_key,
)
from parties.errors import ConfigError
from parties.tls import (
    certificate_identity,
    client_context,
    file_identity,
    server_context,
    session_tls,
)


def _authority(folder, members):
    """An authority in ``folder`` with (role, name) members on 127.0.0.1."""
    folder.mkdir()
    key, authority = create_authority(folder.name)
    write_certificate(folder / "ca.crt", authority)
    write_key(folder / "ca.key", key)
    for role, name in members:
        member_key, certificate = issue_certificate(
            key, authority, role, name, hosts=("127.0.0.1",) if role == "node" else ()
        )
        certificate_path, key_path = member_paths(folder, role, name)
        write_certificate(certificate_path, certificate)
        write_key(key_path, member_key)
    return folder


def _files(folder, role, name, authority=None):
    certificate, key = member_paths(folder, role, name)
    return certificate, key, (authority or folder) / "ca.crt"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    main = _authority(
        base / "main",
        [("node", "alpha"), ("node", "beta"), ("coordinator", "researcher")],
    )
    other = _authority(base / "other", [("coordinator", "researcher")])
    return main, other


def _handshake(server, client, server_hostname="127.0.0.1"):
    """Connect once; return what the server saw: an identity or the error."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen = {}

    def serve():
        connection, _ = listener.accept()
        try:
            with server.wrap_socket(connection, server_side=True) as tls:
                seen["identity"] = certificate_identity(tls.getpeercert())
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            seen["error"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with client.wrap_socket(raw, server_hostname=server_hostname) as tls:
                seen["server"] = certificate_identity(tls.getpeercert())
                tls.recv(2)
    except (ssl.SSLError, OSError) as exc:
        seen["client_error"] = exc
    finally:
        thread.join(timeout=5)
        listener.close()
    return seen


def test_a_coordinator_and_a_node_authenticate_each_other(pki):
    main, _ = pki
    server = server_context(*_files(main, "node", "alpha"))
    client = client_context(*_files(main, "coordinator", "researcher"))

    seen = _handshake(server, client)

    assert seen["identity"] == ("coordinator", "researcher")
    assert seen["server"] == ("node", "alpha")


def test_the_server_rejects_a_certificate_of_another_authority(pki):
    main, other = pki
    server = server_context(*_files(main, "node", "alpha"))
    client = client_context(*_files(other, "coordinator", "researcher", main))

    seen = _handshake(server, client)

    assert "identity" not in seen
    assert isinstance(seen["error"], ssl.SSLError)


def test_the_client_checks_the_server_host_name(pki):
    main, _ = pki
    server = server_context(*_files(main, "node", "alpha"))
    client = client_context(*_files(main, "coordinator", "researcher"))

    seen = _handshake(server, client, server_hostname="node.example.org")

    assert isinstance(seen["client_error"], ssl.SSLCertVerificationError)


def test_reads_the_holder_from_the_uri_only():
    peercert = {
        "subject": ((("commonName", "beta"),),),
        "subjectAltName": (("URI", "urn:crp:node:alpha"), ("IP Address", "127.0.0.1")),
    }

    assert certificate_identity(peercert) == ("node", "alpha")


@pytest.mark.parametrize(
    "names",
    [
        (),
        (("URI", "https://example.org"),),
        (("URI", "urn:crp:admin:root"),),
        (("URI", "urn:crp:node:alpha"), ("URI", "urn:crp:node:beta")),
    ],
)
def test_names_nobody_without_exactly_one_federation_uri(names):
    assert certificate_identity({"subjectAltName": names}) is None


def test_session_links_accept_node_certificates_only(pki):
    main, _ = pki
    certificate, key, authority = _files(main, "node", "alpha")
    spec = {
        "certificate": str(certificate),
        "key": str(key),
        "authority": str(authority),
    }

    settings = session_tls(spec, ["alpha", "beta"])

    node = {"subjectAltName": (("URI", "urn:crp:node:beta"),)}
    coordinator = {"subjectAltName": (("URI", "urn:crp:coordinator:beta"),)}
    assert settings.certificate_name(node) == "beta"
    assert settings.certificate_name(coordinator) is None
    assert settings.party_names == ["alpha", "beta"]
    assert settings.client_context.check_hostname is False


def test_session_settings_must_name_all_three_files():
    with pytest.raises(ConfigError, match=r"lack key, authority"):
        session_tls({"certificate": "a.crt"}, ["alpha"])


def test_reports_a_key_that_does_not_belong_to_the_certificate(pki):
    main, _ = pki
    certificate, _, authority = _files(main, "node", "alpha")
    _, wrong_key, _ = _files(main, "node", "beta")

    with pytest.raises(ConfigError, match=r"cannot be used together"):
        server_context(certificate, wrong_key, authority)


def test_reports_a_missing_file(pki, tmp_path):
    main, _ = pki

    with pytest.raises(
        ConfigError, match=r"The TLS certificate file .* does not exist"
    ):
        client_context(tmp_path / "none.crt", *_files(main, "node", "alpha")[1:])


def test_reads_the_holder_of_a_certificate_file(pki):
    main, _ = pki

    assert file_identity(main / "node-beta.crt") == ("node", "beta")
    assert file_identity(main / "ca.crt") is None
