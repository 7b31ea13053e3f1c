"""Small local federations with synthetic data, for tests that start processes."""

from __future__ import annotations

from pathlib import Path

from parties.data import load_partner_data
from parties.demo import write_federation
from parties.federation import Federation, load_federation
from parties.request import Request, parse_request_text
from parties.synth import PARTNER_SCHEMAS, write_synthetic_data


def local_federation(
    folder: Path, names: tuple[str, ...], *, seed: int = 0, scale: float = 0.02
) -> tuple[Federation, dict[str, Path]]:
    """Synthetic files and a federation of the given nodes on 127.0.0.1."""
    files = write_synthetic_data(folder / "data", seed=seed, scale=scale)
    schemas = {
        name: f"data/schemas/{PARTNER_SCHEMAS[name]}.toml"
        for name in names
        if name in PARTNER_SCHEMAS
    }
    path = write_federation(folder / "federation.toml", names, schemas=schemas)
    data = {name: files[name] for name in names if name in files}
    return load_federation(path), data


def reference_inputs(
    federation: Federation, data: dict[str, Path], request_text: str
) -> tuple[Request, dict, dict]:
    """The parsed request, loaded frames and schemas for the plaintext reference."""
    schemas = federation.schemas()
    request = parse_request_text(request_text, schemas)
    frames = {
        name: load_partner_data(path, schemas[name]).frame
        for name, path in data.items()
    }
    return request, frames, schemas
