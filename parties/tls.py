"""TLS for a federation: contexts for the control API and the MPC links, identities.

Every connection inside a federation is mutually authenticated TLS with
certificates of the federation's own authority (:mod:`parties.certs`). A
certificate's holder is read from its ``urn:crp:ROLE:NAME`` URI, never from the
common name. Trusting the authority is not enough on its own: a caller must also
check that the holder is the one it expects (the coordinator checks the node it
dialled, a node checks that a request comes from a listed coordinator, and an
MPC link checks that the peer's certificate names the party at the index the
peer claims, see :class:`mpc.runtime.TlsSettings`).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509

from mpc.runtime import TlsSettings
from parties.certs import ROLES, URI_PREFIX
from parties.errors import ConfigError

Identity = tuple[str, str]


def identity_from_uris(uris: list[str]) -> Identity | None:
    """``(role, name)`` from a certificate's URIs; None unless exactly one is ours."""
    found = []
    for uri in uris:
        if not uri.startswith(URI_PREFIX):
            continue
        role, sep, name = uri[len(URI_PREFIX) :].partition(":")
        if sep and role in ROLES and name:
            found.append((role, name))
    return found[0] if len(found) == 1 else None


def certificate_identity(peercert: Mapping[str, Any] | None) -> Identity | None:
    """The holder of a verified peer certificate, as ``SSLSocket.getpeercert()``
    returns it; None when it names no node or coordinator (or several)."""
    if not peercert:
        return None
    uris = [
        str(value)
        for kind, value in peercert.get("subjectAltName", ())
        if kind == "URI"
    ]
    return identity_from_uris(uris)


def certificate_identity_der(der: bytes) -> Identity | None:
    """The holder of a certificate given in DER form (or None, as above)."""
    certificate = x509.load_der_x509_certificate(der)
    return _identity_of(certificate)


def file_identity(path: str | Path) -> Identity | None:
    """The holder named by a PEM certificate file."""
    try:
        certificate = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"Certificate file {str(path)!r} does not exist.") from None
    except ValueError as exc:
        raise ConfigError(
            f"Certificate file {str(path)!r} is not a PEM certificate: {exc}."
        ) from exc
    return _identity_of(certificate)


def _identity_of(certificate: x509.Certificate) -> Identity | None:
    try:
        san = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        return None
    return identity_from_uris(
        san.value.get_values_for_type(x509.UniformResourceIdentifier)
    )


def server_context(
    certificate: str | Path, key: str | Path, authority: str | Path
) -> ssl.SSLContext:
    """A TLS server context that requires a client certificate of the authority."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    _load(context, certificate, key, authority)
    return context


def client_context(
    certificate: str | Path,
    key: str | Path,
    authority: str | Path,
    *,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A TLS client context that presents our certificate and trusts only the
    authority (not the system's store)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    _load(context, certificate, key, authority)
    return context


def _load(
    context: ssl.SSLContext,
    certificate: str | Path,
    key: str | Path,
    authority: str | Path,
) -> None:
    for label, path in (
        ("certificate", certificate),
        ("key", key),
        ("authority certificate", authority),
    ):
        if not Path(path).is_file():
            raise ConfigError(f"The TLS {label} file {str(path)!r} does not exist.")
    try:
        context.load_verify_locations(cafile=str(authority))
    except ssl.SSLError as exc:
        raise ConfigError(
            f"The authority certificate {str(authority)!r} cannot be read: {exc}."
        ) from exc
    try:
        context.load_cert_chain(str(certificate), str(key))
    except ssl.SSLError as exc:
        raise ConfigError(
            f"The certificate {str(certificate)!r} and key {str(key)!r} cannot be "
            f"used together: {exc}. Check that the key belongs to the certificate."
        ) from exc


def node_certificate_name(peercert: Mapping[str, Any] | None) -> str | None:
    """The node a peer certificate names; None for coordinators and others."""
    identity = certificate_identity(peercert)
    if identity is None or identity[0] != "node":
        return None
    return identity[1]


def session_tls(tls_spec: Mapping[str, str], node_names: list[str]) -> TlsSettings:
    """TLS for the MPC links of one session, from a session spec's ``tls`` entry.

    ``tls_spec`` holds the paths ``certificate``, ``key`` and ``authority``.
    Host names are not checked on these links (every party may sit on one
    address); instead :mod:`mpc.runtime` accepts a peer only if its certificate
    names the node at the index the peer claims.
    """
    missing = [k for k in ("certificate", "key", "authority") if not tls_spec.get(k)]
    if missing:
        raise ConfigError(
            f"The session's TLS settings lack {', '.join(missing)}; the node must "
            "pass its certificate, key and authority paths."
        )
    paths = (tls_spec["certificate"], tls_spec["key"], tls_spec["authority"])
    return TlsSettings(
        server_context=server_context(*paths),
        client_context=client_context(*paths, check_hostname=False),
        party_names=list(node_names),
        certificate_name=node_certificate_name,
    )
