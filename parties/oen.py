"""Ontario Education Number (OEN) helpers: check digits, normalising and parsing.

An OEN is a nine-digit student number, written with or without separators
("123456789", "123-456-789", "123 456 789"); leading zeros are part of the number.

Assumption: the Ministry of Education does not publish the OEN check-digit
algorithm. This module ASSUMES that the ninth digit is a Luhn (mod 10) check digit
computed over the first eight digits. If a partner's numbers turn out to follow
another rule, declare ``id_check = "none"`` in its schema: nine digits are then
still required, but the check digit is not verified.

The scalar helpers suit single values; :func:`parse_oen_column` does a whole
column at once and returns integer keys plus one small status code per value.
Nothing here logs or prints an OEN, and no error message quotes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from parties.errors import DataError

OEN_DIGITS = 9
PAYLOAD_DIGITS = 8

# Status codes returned by parse_oen_column, one per value.
OEN_VALID = 0
OEN_MISSING = 1
OEN_MALFORMED = 2
OEN_BAD_CHECK = 3
OEN_STATUS_NAMES: dict[int, str] = {
    OEN_VALID: "valid",
    OEN_MISSING: "missing id",
    OEN_MALFORMED: "malformed id",
    OEN_BAD_CHECK: "bad check digit",
}

# Key given to every value that is not a usable OEN.
NO_KEY = -1

# Digits, optionally split into groups by single dashes or spaces.
_OEN_SHAPE = r"^[0-9]+(?:[- ][0-9]+)*$"


def luhn_check_digit(payload8: str) -> str:
    """Return the Luhn check digit of an eight-digit OEN payload."""
    if len(payload8) != PAYLOAD_DIGITS or not _ascii_digits(payload8):
        raise DataError(
            f"An OEN payload must be exactly {PAYLOAD_DIGITS} digits (0-9); got a "
            f"string of {len(payload8)} characters."
        )
    payload = np.array([int(payload8)], dtype=np.int64)
    return str(int(luhn_check_digits(payload)[0]))


def is_valid_oen(text: str) -> bool:
    """Tell whether ``text`` is exactly nine digits whose last is the check digit."""
    if len(text) != OEN_DIGITS or not _ascii_digits(text):
        return False
    return luhn_check_digit(text[:PAYLOAD_DIGITS]) == text[-1]


def normalize_oen(text: Any) -> str | None:
    """Return the nine digits of an OEN written with optional separators, or None.

    Surrounding whitespace is ignored and single dashes or spaces may separate
    groups of digits. An integer is zero-padded to nine digits. The check digit is
    not verified here; use :func:`is_valid_oen` on the result for that.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, int | np.integer):
        number = int(text)
        return f"{number:09d}" if 0 <= number < 10**OEN_DIGITS else None
    if not isinstance(text, str):
        return None

    stripped = text.strip()
    groups = stripped.replace("-", " ").split(" ")
    if not stripped or any(not _ascii_digits(group) for group in groups):
        return None
    digits = "".join(groups)
    return digits if len(digits) == OEN_DIGITS else None


def luhn_check_digits(payloads: np.ndarray) -> np.ndarray:
    """Return the Luhn check digit of each eight-digit payload given as an integer."""
    remaining = np.asarray(payloads, dtype=np.int64).copy()
    total = np.zeros(remaining.shape, dtype=np.int64)

    # Walk the payload from its rightmost digit; that one and every second digit
    # to its left are doubled, and a doubled digit above 9 loses 9.
    for position in range(PAYLOAD_DIGITS):
        digit = remaining % 10
        remaining //= 10
        if position % 2 == 0:
            digit = 2 * digit
            digit -= 9 * (digit > 9)
        total += digit
    return (10 - total % 10) % 10


def append_check_digits(payloads: np.ndarray) -> np.ndarray:
    """Turn eight-digit payloads (0 to 99,999,999) into nine-digit OEN keys."""
    payloads = np.asarray(payloads, dtype=np.int64)
    if payloads.size and (payloads.min() < 0 or payloads.max() >= 10**PAYLOAD_DIGITS):
        raise DataError(
            "OEN payloads must lie between 0 and 99,999,999; at least one does not."
        )
    return payloads * 10 + luhn_check_digits(payloads)


def format_oen_keys(keys: np.ndarray) -> np.ndarray:
    """Write integer OEN keys as nine-character strings, keeping leading zeros."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.char.zfill(keys.astype("U9"), OEN_DIGITS)


def parse_oen_column(
    values: pd.Series | np.ndarray | Iterable[Any],
    *,
    check_digit: bool = True,
    null_tokens: Iterable[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a whole column of OENs at once.

    Text values may carry surrounding whitespace and dash or space separators;
    integer values (an OEN column stored as numbers) are read as the number
    zero-padded to nine digits. Returns ``(keys, status)``: ``keys`` is an int64
    array holding the OEN as a number (:data:`NO_KEY` where the value is not a
    usable OEN) and ``status`` a uint8 array of :data:`OEN_VALID`,
    :data:`OEN_MISSING`, :data:`OEN_MALFORMED` or :data:`OEN_BAD_CHECK`. A text
    value is missing when null, blank or, once stripped, one of ``null_tokens``
    (such as "NA"). With ``check_digit=False`` the check digit is not verified.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype(object)

    # Numbers and text take different roads to the same (keys, status) pair.
    if pd.api.types.is_numeric_dtype(series.dtype):
        keys, status = _parse_numbers(series.to_numpy(dtype="float64", na_value=np.nan))
    else:
        keys, status = _parse_text(series, sorted(set(null_tokens)))

    # Verify the check digit of every well-formed value.
    if check_digit:
        shaped = status == OEN_VALID
        bad = shaped.copy()
        bad[shaped] = luhn_check_digits(keys[shaped] // 10) != keys[shaped] % 10
        status[bad] = OEN_BAD_CHECK
        keys[bad] = NO_KEY
    return keys, status


def _parse_numbers(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classify an OEN column stored as numbers (NaN marks a missing value)."""
    status = np.full(numbers.shape, OEN_MALFORMED, dtype=np.uint8)
    missing = np.isnan(numbers)
    status[missing] = OEN_MISSING

    with np.errstate(invalid="ignore"):
        shaped = (
            ~missing
            & (numbers >= 0)
            & (numbers < 10**OEN_DIGITS)
            & (numbers == np.floor(numbers))
        )
    status[shaped] = OEN_VALID
    keys = np.full(numbers.shape, NO_KEY, dtype=np.int64)
    keys[shaped] = numbers[shaped].astype(np.int64)
    return keys, status


def _parse_text(
    series: pd.Series, null_tokens: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Classify an OEN column stored as text, with Arrow kernels for speed."""
    text = pa.array(series.astype("string"), type=pa.large_string())
    stripped = pc.utf8_trim_whitespace(text)

    # A value is missing when null, blank or a null token, malformed unless it
    # has the shape of digit groups that add up to exactly nine digits.
    missing = pc.or_(
        pc.equal(pc.utf8_length(stripped), 0),
        pc.is_in(stripped, value_set=pa.array(null_tokens, type=pa.large_string())),
    )
    missing = pc.fill_null(missing, True)
    digits = pc.replace_substring_regex(stripped, r"[- ]", "")
    shaped = pc.and_(
        pc.match_substring_regex(stripped, _OEN_SHAPE),
        pc.equal(pc.utf8_length(digits), OEN_DIGITS),
    )
    shaped = pc.fill_null(shaped, False)

    status = np.full(len(series), OEN_MALFORMED, dtype=np.uint8)
    status[missing.to_numpy(zero_copy_only=False)] = OEN_MISSING
    shaped_np = shaped.to_numpy(zero_copy_only=False)
    status[shaped_np] = OEN_VALID

    # Nine ASCII digits always fit an int64, so Arrow's cast cannot fail here.
    keys = np.full(len(series), NO_KEY, dtype=np.int64)
    chosen = pc.filter(digits, shaped)
    keys[shaped_np] = pc.cast(chosen, pa.int64()).to_numpy(zero_copy_only=False)
    return keys, status


def _ascii_digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()
