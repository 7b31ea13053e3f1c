"""Tests of the OEN helpers in :mod:`parties.oen`."""

import time

import numpy as np
import pandas as pd
import pytest

from parties.errors import DataError
from parties.oen import (
    NO_KEY,
    OEN_BAD_CHECK,
    OEN_MALFORMED,
    OEN_MISSING,
    OEN_VALID,
    append_check_digits,
    format_oen_keys,
    is_valid_oen,
    luhn_check_digit,
    luhn_check_digits,
    normalize_oen,
    parse_oen_column,
)

# Worked by hand: from the right, 8 7 6 5 4 3 2 1 with every second digit doubled
# (8->16->7, 6->12->3, 4->8, 2->4) sums to 7+7+3+5+8+3+4+1 = 38, so the check
# digit is 2.
HAND_PAYLOAD = "12345678"
HAND_OEN = "123456782"


def test_computes_the_luhn_check_digit_worked_by_hand() -> None:
    digit = luhn_check_digit(HAND_PAYLOAD)

    assert digit == "2"


@pytest.mark.parametrize(
    ("payload", "digit"),
    [("00000000", "0"), ("00000001", "8"), ("79927398", "2"), ("00000018", "2")],
)
def test_check_digit_matches_known_values(payload: str, digit: str) -> None:
    assert luhn_check_digit(payload) == digit


@pytest.mark.parametrize("payload", ["1234567", "123456789", "1234567a", "١٢٣٤٥٦٧٨"])
def test_rejects_a_payload_that_is_not_eight_ascii_digits(payload: str) -> None:
    with pytest.raises(DataError, match="exactly 8 digits"):
        luhn_check_digit(payload)


def test_payload_error_does_not_quote_the_payload() -> None:
    with pytest.raises(DataError) as caught:
        luhn_check_digit("1234567x")

    assert "1234567x" not in str(caught.value)


def test_accepts_an_oen_with_the_right_check_digit() -> None:
    assert is_valid_oen(HAND_OEN)


@pytest.mark.parametrize(
    "text", ["123456781", "12345678", "1234567820", "123-456-782", "", "12345678a"]
)
def test_rejects_wrong_check_digits_lengths_and_separators(text: str) -> None:
    assert not is_valid_oen(text)


def test_every_wrong_check_digit_is_caught() -> None:
    wrong = [HAND_PAYLOAD + str(d) for d in range(10) if str(d) != HAND_OEN[-1]]

    results = [is_valid_oen(text) for text in wrong]

    assert results == [False] * 9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123456782", "123456782"),
        ("123-456-782", "123456782"),
        ("123 456 782", "123456782"),
        ("  012-345-678 ", "012345678"),
        ("000000000", "000000000"),
        (12345678, "012345678"),
    ],
)
def test_normalizes_separators_and_keeps_leading_zeros(text, expected) -> None:
    assert normalize_oen(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "12345678",
        "1234567890",
        "123--456-782",
        "-123456782",
        "12a456782",
        "",
        None,
        "１２３４５６７８２",
        10**9,
        -5,
        True,
    ],
)
def test_normalize_returns_none_for_anything_but_nine_digits(text) -> None:
    assert normalize_oen(text) is None


def test_appended_check_digits_make_valid_oens() -> None:
    payloads = np.array([0, 1, 12345678, 99999999])

    keys = append_check_digits(payloads)

    texts = format_oen_keys(keys)
    assert texts.tolist()[:3] == ["000000000", "000000018", HAND_OEN]
    assert all(is_valid_oen(text) for text in texts)


def test_vector_check_digits_agree_with_the_scalar_one() -> None:
    payloads = np.random.default_rng(1).integers(0, 10**8, size=500)

    vector = luhn_check_digits(payloads)

    scalar = [int(luhn_check_digit(f"{p:08d}")) for p in payloads]
    assert vector.tolist() == scalar


def test_append_rejects_payloads_out_of_range() -> None:
    with pytest.raises(DataError, match="between 0 and 99,999,999"):
        append_check_digits(np.array([10**8]))


def test_parses_a_text_column_into_keys_and_statuses() -> None:
    column = pd.Series(
        [HAND_OEN, " 012-345-674 ", None, "  ", "12345678", "abc", "123456781"]
    )

    keys, status = parse_oen_column(column)

    assert status.tolist() == [
        OEN_VALID,
        OEN_VALID,
        OEN_MISSING,
        OEN_MISSING,
        OEN_MALFORMED,
        OEN_MALFORMED,
        OEN_BAD_CHECK,
    ]
    assert keys[:2].tolist() == [123456782, 12345674]
    assert (keys[2:] == NO_KEY).all()


def test_keeps_leading_zeros_of_text_keys() -> None:
    oen = format_oen_keys(append_check_digits(np.array([1234])))[0]

    keys, status = parse_oen_column(pd.Series([oen, f"{oen[:3]}-{oen[3:6]}-{oen[6:]}"]))

    assert oen.startswith("0000")
    assert status.tolist() == [OEN_VALID, OEN_VALID]
    assert keys.tolist() == [int(oen), int(oen)]


def test_parses_a_numeric_column_as_zero_padded_numbers() -> None:
    key = int(append_check_digits(np.array([1234]))[0])
    column = pd.Series([key, np.nan, 10**9, -1, key + 0.5, key + 1])

    keys, status = parse_oen_column(column)

    assert status.tolist() == [
        OEN_VALID,
        OEN_MISSING,
        OEN_MALFORMED,
        OEN_MALFORMED,
        OEN_MALFORMED,
        OEN_BAD_CHECK,
    ]
    assert keys[0] == key


def test_can_skip_the_check_digit() -> None:
    keys, status = parse_oen_column(["123456781", "12345678"], check_digit=False)

    assert status.tolist() == [OEN_VALID, OEN_MALFORMED]
    assert keys[0] == 123456781


def test_parses_an_empty_column() -> None:
    keys, status = parse_oen_column(pd.Series([], dtype="str"))

    assert len(keys) == 0
    assert len(status) == 0


def test_parses_a_million_values_in_well_under_a_second() -> None:
    rng = np.random.default_rng(0)
    expected = append_check_digits(rng.integers(0, 10**8, size=1_000_000))
    column = pd.Series(format_oen_keys(expected))

    start = time.perf_counter()
    keys, status = parse_oen_column(column)
    elapsed = time.perf_counter() - start

    assert (keys == expected).all()
    assert (status == OEN_VALID).all()
    assert elapsed < 1.0
