"""The privacy budget ledger: costs add up, refusals name the rule, restarts remember."""

import pytest

from parties.budget import PrivacyLedger, approximate_dp, request_cost
from parties.errors import ConfigError, PolicyRefusal


def test_costs_are_counted_in_rho() -> None:
    assert request_cost(epsilon=1.0, rho=None) == pytest.approx(0.5)
    assert request_cost(epsilon=None, rho=0.25) == pytest.approx(0.25)
    assert request_cost(None, None) == 0.0


def test_exhausted_budget_is_refused_and_names_node_and_rule(tmp_path) -> None:
    ledger = PrivacyLedger(tmp_path / "ledger.jsonl", budget_rho=1.0, node="board_a")
    ledger.charge(0.6, session="s1", digest="d1", coordinator="council")

    with pytest.raises(PolicyRefusal, match="board_a.*privacy_budget_rho"):
        ledger.charge(0.5, session="s2", digest="d2", coordinator="council")

    assert ledger.spent == pytest.approx(0.6)


def test_budget_survives_a_restart(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    PrivacyLedger(path, 1.0, "college").charge(
        0.9, session="s1", digest="d", coordinator="c"
    )

    reopened = PrivacyLedger(path, 1.0, "college")

    assert reopened.spent == pytest.approx(0.9)
    with pytest.raises(PolicyRefusal, match="college"):
        reopened.check(0.2)


def test_a_torn_last_line_is_skipped_but_damage_elsewhere_stops_the_node(
    tmp_path,
) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = PrivacyLedger(path, 5.0, "council")
    ledger.charge(1.0, session="s1", digest="d", coordinator="c")
    with path.open("a") as handle:
        handle.write('{"time": "2026')

    assert PrivacyLedger(path, 5.0, "council").spent == pytest.approx(1.0)

    path.write_text("garbage\n" + path.read_text())
    with pytest.raises(ConfigError, match="Line 1 of privacy ledger"):
        PrivacyLedger(path, 5.0, "council")


def test_rho_converts_to_approximate_dp() -> None:
    assert approximate_dp(0.5, 1e-6) == pytest.approx(
        0.5 + 2 * (0.5 * 13.8155) ** 0.5, rel=1e-3
    )
