"""Certificates of a federation: one authority, one key and certificate per member.

``crp certs`` calls :func:`write_federation_certificates`. It creates a
certificate authority for the federation and issues one EC P-256 key and
certificate to every node and every coordinator the federation file lists. Each
certificate names its holder twice: in the subject common name, for people, and
in a subject-alternative-name URI, for programs::

    urn:crp:node:board_a
    urn:crp:coordinator:council-researcher

Node certificates also carry the node's host (an IP address or a DNS name) so
that ordinary HTTPS host-name checks work against the control endpoint.

Files written to the output folder (keys are created with mode 0600)::

    ca.crt, ca.key                        the authority; keep ca.key offline
    node-NAME.crt, node-NAME.key          one pair per node
    coordinator-NAME.crt, coordinator-NAME.key

Each partner receives ``ca.crt`` and its own pair only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from parties.errors import ConfigError
from parties.federation import Federation

ROLES = ("node", "coordinator")
URI_PREFIX = "urn:crp:"
AUTHORITY_FILE = "ca.crt"
AUTHORITY_KEY_FILE = "ca.key"

AUTHORITY_VALID_DAYS = 3650
MEMBER_VALID_DAYS = 825

Key = ec.EllipticCurvePrivateKey


def identity_uri(role: str, name: str) -> str:
    """The URI a certificate carries for a node or a coordinator."""
    if role not in ROLES:
        raise ConfigError(f"Role {role!r} is unknown; use 'node' or 'coordinator'.")
    return f"{URI_PREFIX}{role}:{name}"


def member_paths(folder: str | Path, role: str, name: str) -> tuple[Path, Path]:
    """Where the certificate and the key of a node or coordinator are written."""
    identity_uri(role, name)
    folder = Path(folder)
    return folder / f"{role}-{name}.crt", folder / f"{role}-{name}.key"


def create_authority(name: str) -> tuple[Key, x509.Certificate]:
    """A new self-signed certificate authority for a federation."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} certificate authority"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=AUTHORITY_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def issue_certificate(
    authority_key: Key,
    authority: x509.Certificate,
    role: str,
    name: str,
    *,
    hosts: tuple[str, ...] = (),
) -> tuple[Key, x509.Certificate]:
    """A new key and a certificate naming ``role`` ``name``, signed by the authority.

    Nodes act as TLS servers (control endpoint, MPC links) and clients (MPC
    links); coordinators only as clients.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    organisation = authority.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    if organisation:
        attributes.append(
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(organisation[0].value))
        )
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role))

    # The URI is what programs check; the host entries serve HTTPS host checks.
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(identity_uri(role, name))
    ]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if role == "node":
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)

    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    authority_public = authority_key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(authority.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=MEMBER_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_public),
            False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    return key, certificate


def write_key(path: Path, key: Key) -> Path:
    """Write a private key as unencrypted PKCS#8 PEM, readable by its owner only."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def write_certificate(path: Path, certificate: x509.Certificate) -> Path:
    """Write a certificate as PEM."""
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def write_federation_certificates(
    federation: Federation, out: str | Path
) -> list[Path]:
    """Create the authority and every member's key and certificate in ``out``.

    Refuses to overwrite: an existing authority or member file is an error, so
    that keys already handed out are never replaced by accident.
    """
    out = Path(out)
    members: list[tuple[str, str, tuple[str, ...]]] = [
        ("node", node.name, (node.host,)) for node in federation.nodes
    ]
    members += [("coordinator", c.name, ()) for c in federation.coordinators]
    planned = [out / AUTHORITY_FILE, out / AUTHORITY_KEY_FILE]
    for role, name, _ in members:
        planned.extend(member_paths(out, role, name))
    existing = [path.name for path in planned if path.exists()]
    if existing:
        shown = ", ".join(existing[:3])
        if len(existing) > 3:
            shown += f" and {len(existing) - 3} more"
        raise ConfigError(
            f"Folder {str(out)!r} already holds {shown}; choose an empty folder so "
            "that keys already handed out are not replaced."
        )
    out.mkdir(parents=True, exist_ok=True)

    authority_key, authority = create_authority(federation.name)
    written = [
        write_certificate(out / AUTHORITY_FILE, authority),
        write_key(out / AUTHORITY_KEY_FILE, authority_key),
    ]
    for role, name, hosts in members:
        key, certificate = issue_certificate(
            authority_key, authority, role, name, hosts=hosts
        )
        certificate_path, key_path = member_paths(out, role, name)
        written.append(write_certificate(certificate_path, certificate))
        written.append(write_key(key_path, key))
    return written
