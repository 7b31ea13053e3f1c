"""Pseudorandom generators keyed by secrets that two or more parties share.

Parties that share a key can draw the same pseudorandom field elements or the same
permutation without talking, which is what keeps the shuffle and the resharing
cheap: a share that a party can compute for itself need not be sent.

Keys are 32 bytes. Each draw derives a fresh AES-256 key from the shared key and a
label with keyed BLAKE2b, and reads the AES-CTR keystream, so that no two draws of
a session ever reuse a keystream.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mpc.field import Field

KEY_BYTES = 32


def fresh_key() -> bytes:
    """A new random key from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def derive_key(key: bytes, *labels: object) -> bytes:
    """A subkey for one purpose; the labels name the purpose and are public."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"keys are {KEY_BYTES} bytes, got {len(key)}")
    text = "/".join(str(label) for label in labels).encode("utf-8")
    return hashlib.blake2b(text, key=key, digest_size=KEY_BYTES).digest()


def keystream(key: bytes, nbytes: int, *labels: object) -> bytes:
    """``nbytes`` pseudorandom bytes for the given key and labels."""
    subkey = derive_key(key, *labels)
    encryptor = Cipher(algorithms.AES(subkey), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(bytes(nbytes)) + encryptor.finalize()


def uniform(
    field: Field, key: bytes, shape: tuple[int, ...], *labels: object
) -> np.ndarray:
    """Pseudorandom field elements of the given shape."""
    count = int(np.prod(shape))
    data = keystream(key, field.random_bytes_needed(count), *labels)
    return field.from_random_bytes(data, shape)


def permutation(key: bytes, size: int, *labels: object) -> np.ndarray:
    """A pseudorandom permutation of ``range(size)`` (indices as int64).

    It sorts the positions by 64-bit pseudorandom tags; ties, which would bias the
    permutation, happen with probability below size^2 / 2^65.
    """
    data = keystream(key, 8 * size, "permutation", *labels)
    tags = np.frombuffer(data, dtype="<u8", count=size)
    return np.argsort(tags, kind="stable").astype(np.int64)
