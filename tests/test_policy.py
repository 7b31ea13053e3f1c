"""Tests of a node's own policy: loading, defaults and the rules it enforces."""

from __future__ import annotations

import pytest

from parties.demo import catalogue_text
from parties.errors import ConfigError, PolicyRefusal
from parties.federation import CoordinatorInfo, Federation, NodeInfo
from parties.plan import compile_plan
from parties.policy import columns_read, load_policy, policy_from_dict
from parties.request import parse_request_text
from parties.synth import PARTNER_SCHEMAS, synthetic_schemas

BY_GENDER = """
name = "by_gender"
[population]
partners = ["board_a", "board_b"]
where = "grade9_year >= 2015"
[[rows]]
column = "gender"
[[measures]]
name = "college_grad"
when = "exists(college, outcome == 'graduated')"
[disclosure]
min_cell_size = 5
"""


@pytest.fixture(scope="module")
def federation():
    schemas = synthetic_schemas()
    names = ["board_a", "board_b", "college", "university", "foundation"]
    nodes = [
        NodeInfo(
            name,
            index,
            "127.0.0.1",
            9000 + index,
            9100 + index,
            schemas[PARTNER_SCHEMAS[name]] if name in PARTNER_SCHEMAS else None,
        )
        for index, name in enumerate(names)
    ]
    coordinators = [CoordinatorInfo("researcher"), CoordinatorInfo("auditor")]
    return Federation("test-fed", nodes, coordinators)


def _plan(federation, text):
    schemas = federation.schemas()
    request = parse_request_text(text, schemas)
    return request, compile_plan(request, schemas)


def test_defaults_accept_the_standard_table(federation):
    policy = policy_from_dict({}, node="board_a", federation=federation)
    request, plan = _plan(federation, catalogue_text("pathways_by_quintile"))

    policy.check(request, plan, coordinator="researcher", accepted_last_day=0)

    assert policy.coordinators == {"researcher", "auditor"}
    assert policy.min_cell_size == 10
    assert policy.max_requests_per_day == 50


def test_refuses_a_column_the_policy_does_not_allow(federation):
    allowed = ["grade9_year", "income_quintile", "ossd_year"]
    policy = policy_from_dict(
        {"columns": allowed}, node="board_b", federation=federation
    )
    request, plan = _plan(federation, BY_GENDER.replace("5\n", "10\n"))

    with pytest.raises(
        PolicyRefusal,
        match=r"^Node board_b refuses the request \(rule columns\).*'gender'",
    ) as refusal:
        policy.check(request, plan, coordinator="researcher", accepted_last_day=0)

    assert refusal.value.rule == "columns"
    assert refusal.value.node == "board_b"


def test_refuses_a_smaller_minimum_cell_size(federation):
    policy = policy_from_dict({}, node="college", federation=federation)
    request, plan = _plan(federation, BY_GENDER)

    with pytest.raises(PolicyRefusal, match=r"rule min_cell_size.*= 5, below .* 10"):
        policy.check(request, plan, coordinator="researcher", accepted_last_day=0)


def test_refuses_once_the_daily_limit_is_reached(federation):
    policy = policy_from_dict(
        {"max_requests_per_day": 3}, node="foundation", federation=federation
    )
    request, plan = _plan(federation, catalogue_text("pathways_by_quintile"))
    policy.check(request, plan, coordinator="researcher", accepted_last_day=2)

    with pytest.raises(PolicyRefusal, match=r"rule max_requests_per_day.*accepted 3"):
        policy.check(request, plan, coordinator="researcher", accepted_last_day=3)


def test_refuses_a_coordinator_the_policy_leaves_out(federation):
    policy = policy_from_dict(
        {"coordinators": ["researcher"]}, node="college", federation=federation
    )

    with pytest.raises(PolicyRefusal, match=r"rule coordinators.*'auditor' may not"):
        policy.check_coordinator("auditor")


def test_a_population_partner_reads_its_filter_and_dimension_columns(federation):
    _, plan = _plan(federation, BY_GENDER)

    assert columns_read(plan, "board_a") == {"gender", "grade9_year"}
    assert columns_read(plan, "college") == {"outcome"}
    assert columns_read(plan, "university") == set()


def test_a_linked_partner_reads_the_columns_of_its_conditions(federation):
    _, plan = _plan(federation, catalogue_text("pathways_by_quintile"))

    assert {"entry_year", "outcome"} <= columns_read(plan, "college")
    assert "ossd_year" in columns_read(plan, "board_a")
    assert "ossd_year" not in columns_read(plan, "college")


def test_loads_the_defaults_without_a_file(federation):
    policy = load_policy(None, node="university", federation=federation)

    assert policy.source == "defaults"
    assert "entry_year" in policy.columns


def test_reports_an_unknown_key_with_file_and_key(federation, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("min_cells = 5\n")

    with pytest.raises(ConfigError, match=r"policy\.toml: unknown key\(s\) min_cells"):
        load_policy(path, node="board_a", federation=federation)


def test_reports_a_coordinator_the_federation_does_not_list(federation):
    with pytest.raises(ConfigError, match=r"coordinators lists 'mallory'"):
        policy_from_dict(
            {"coordinators": ["mallory"]}, node="board_a", federation=federation
        )


def test_reports_a_column_the_schema_does_not_declare(federation):
    with pytest.raises(ConfigError, match=r"columns lists 'oen'.*declared columns"):
        policy_from_dict({"columns": ["oen"]}, node="board_a", federation=federation)


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"min_cell_size": 0},
            r"min_cell_size = 0 must be a whole number of at least 1",
        ),
        ({"max_requests_per_day": "many"}, r"max_requests_per_day = 'many'"),
        ({"columns": "gender"}, r"columns must be a list of names"),
    ],
)
def test_reports_values_of_the_wrong_kind(federation, raw, message):
    with pytest.raises(ConfigError, match=message):
        policy_from_dict(raw, node="board_a", federation=federation, source="p.toml")


def _with_disclosure(text: str, extra: str) -> str:
    return text.replace("min_cell_size = 10", "min_cell_size = 10\n" + extra)


@pytest.mark.parametrize(
    ("policy", "extra", "rule"),
    [
        ({}, "complementary = false", "require_complementary"),
        ({}, "protect_complements = false", "require_complementary"),
        ({"rounding_base": 5}, "", "rounding_base"),
        ({"rounding_base": 5}, "rounding_base = 10", "rounding_base"),
        ({"require_noise": True}, "", "require_noise"),
        ({"max_epsilon": 1.0}, "epsilon = 1.5", "max_epsilon"),
        ({"max_epsilon": 1.0}, "rho = 1.0", "max_epsilon"),
    ],
)
def test_refuses_disclosure_control_weaker_than_its_own(
    federation, policy, extra, rule
):
    checker = policy_from_dict(policy, node="board_a", federation=federation)
    text = _with_disclosure(catalogue_text("pathways_by_quintile"), extra)
    request, plan = _plan(federation, text)

    with pytest.raises(PolicyRefusal, match=rf"Node board_a .*rule {rule}") as refusal:
        checker.check(request, plan, coordinator="researcher", accepted_last_day=0)

    assert refusal.value.rule == rule


def test_accepts_a_request_that_meets_its_disclosure_rules(federation):
    checker = policy_from_dict(
        {"rounding_base": 5, "require_noise": True, "max_epsilon": 1.0},
        node="board_a",
        federation=federation,
    )
    text = _with_disclosure(
        catalogue_text("pathways_by_quintile"), "rounding_base = 5\nrho = 0.5"
    )
    request, plan = _plan(federation, text)

    checker.check(request, plan, coordinator="researcher", accepted_last_day=0)
