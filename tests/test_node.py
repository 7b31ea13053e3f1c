"""Tests of a node in one process: configuration, access, refusals and auditing.

Sessions with real processes and networking are in ``test_federation_nodes.py``.
"""

from __future__ import annotations

import asyncio
import json
import tomllib

import httpx
import pytest
import tomli_w

from parties.control import create_app
from parties.demo import DATA_PARTNERS, catalogue_text, write_demo_federation
from parties.errors import ConfigError, PolicyRefusal
from parties.node import Node, NodeBusy, UnknownSession
from parties.node_config import load_node_config
from parties.request import parse_request_text

COORDINATOR = ("coordinator", "council-researcher")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("federation")
    return write_demo_federation(
        folder,
        names=(*DATA_PARTNERS, "foundation"),
        scale=0.02,
        seed=5,
        policies={"college": {"min_cell_size": 20}},
    )


@pytest.fixture(scope="module")
def board_a(demo):
    return Node(load_node_config(demo.configs["board_a"]))


def _standard(demo):
    text = catalogue_text("pathways_by_quintile")
    request = parse_request_text(text, demo.federation.schemas())
    return text, request.digest


def _edit_config(demo, name, tmp_path, change):
    """A copy of a node's configuration with ``change`` applied to its tables."""
    path = demo.configs[name]
    document = tomllib.loads(path.read_text())
    change(document)
    copy = path.parent / f"edited-{tmp_path.name}.toml"
    copy.write_text(tomli_w.dumps(document))
    return copy


def test_reads_a_node_configuration_with_defaults(demo):
    config = load_node_config(demo.configs["foundation"])

    assert config.name == "foundation"
    assert config.data is None
    assert config.connect_timeout == 15.0
    assert config.deadline == 3600.0
    assert config.audit_log == demo.configs["foundation"].parent / "audit.jsonl"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["node"].pop("name"), r"\[node\] name is required"),
        (
            lambda d: d["node"].update(colour="red"),
            r"unknown key\(s\) colour in \[node\]",
        ),
        (lambda d: d.update(extra={}), r"unknown table\(s\) extra"),
        (
            lambda d: d.update(sessions={"deadline": -1}),
            r"\[sessions\] deadline = -1 must be a positive number",
        ),
        (
            lambda d: d["tls"].update(key="missing.key"),
            r"\[tls\] key = 'missing.key' names no file",
        ),
    ],
)
def test_reports_configuration_mistakes_with_file_and_key(
    demo, tmp_path, change, message
):
    path = _edit_config(demo, "board_b", tmp_path, change)

    with pytest.raises(ConfigError, match=message):
        load_node_config(path)


def test_refuses_to_start_with_another_node_certificate(demo, tmp_path):
    def swap(document):
        document["tls"]["certificate"] = "../../certs/node-board_b.crt"
        document["tls"]["key"] = "../../certs/node-board_b.key"

    path = _edit_config(demo, "board_a", tmp_path, swap)

    with pytest.raises(ConfigError, match=r"names node board_b, not node 'board_a'"):
        Node(load_node_config(path))


def test_a_data_partner_needs_its_data_file(demo, tmp_path):
    path = _edit_config(demo, "college", tmp_path, lambda d: d["node"].pop("data"))

    with pytest.raises(ConfigError, match=r"\[node\] data is required"):
        Node(load_node_config(path))


def test_takes_requests_only_from_listed_coordinators(board_a):
    assert board_a.authorise(COORDINATOR, coordinator_only=True) == "council-researcher"
    assert board_a.authorise(("node", "college"), coordinator_only=False) == "college"

    with pytest.raises(
        PolicyRefusal, match=r"refuses coordinator 'intruder'.*does not"
    ):
        board_a.authorise(("coordinator", "intruder"), coordinator_only=True)
    with pytest.raises(PolicyRefusal, match=r"refuses node 'college': only a coord"):
        board_a.authorise(("node", "college"), coordinator_only=True)
    with pytest.raises(PolicyRefusal, match=r"names no node or coordinator"):
        board_a.authorise(None, coordinator_only=False)


def test_refuses_and_audits_a_request_whose_digest_does_not_match(board_a):
    text, digest = _standard_text(board_a)
    wrong = "0" * 64

    with pytest.raises(PolicyRefusal, match=r"rule digest.*does not match"):
        board_a.submit(COORDINATOR, "session-digest", text, wrong)

    last = board_a.audit.entries()[-1]
    assert last["outcome"] == "refused"
    assert last["rule"] == "digest"
    assert last["session"] == "session-digest"


def test_refuses_and_audits_a_request_against_its_policy(demo):
    college = Node(load_node_config(demo.configs["college"]))
    text, digest = _standard(demo)

    with pytest.raises(
        PolicyRefusal, match=r"Node college refuses .*rule min_cell_size"
    ):
        college.submit(COORDINATOR, "session-policy", text, digest)

    last = college.audit.entries()[-1]
    assert (last["outcome"], last["rule"], last["digest"]) == (
        "refused",
        "min_cell_size",
        digest,
    )


def test_refuses_a_second_request_while_a_session_runs(board_a):
    text, digest = _standard_text(board_a)

    async def scenario():
        first = board_a.submit(COORDINATOR, "session-first", text, digest)
        with pytest.raises(NodeBusy, match=r"busy with session session-first"):
            board_a.submit(COORDINATOR, "session-second", text, digest)
        await board_a.cancel(COORDINATOR, "session-first")
        return first

    first = asyncio.run(scenario())

    assert first.status == "aborted"
    assert first.error.startswith("Cancelled by coordinator council-researcher")
    outcomes = [(e["session"], e["outcome"]) for e in board_a.audit.entries()[-3:]]
    assert outcomes == [
        ("session-first", "accepted"),
        ("session-second", "refused"),
        ("session-first", "aborted"),
    ]
    assert not list(board_a.config.state_dir.iterdir())


def test_shows_a_session_only_to_the_coordinator_that_created_it(board_a):
    with pytest.raises(UnknownSession, match=r"has no session session-unknown of"):
        board_a.session(COORDINATOR, "session-unknown")
    with pytest.raises(PolicyRefusal, match=r"refuses coordinator 'intruder'"):
        board_a.session(("coordinator", "intruder"), "session-first")


def _call_app(node, path):
    """Call the node's app in process (no TLS, so no client certificate)."""

    async def call():
        transport = httpx.ASGITransport(app=create_app(node))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as c:
            return await c.get(path)

    return asyncio.run(call())


def test_the_api_refuses_a_client_without_a_federation_certificate(board_a):
    answer = _call_app(board_a, "/status")

    assert answer.status_code == 403
    assert answer.json()["node"] == "board_a"
    assert "names no node or coordinator" in answer.json()["detail"]


def test_the_api_has_an_openapi_description(board_a):
    document = _call_app(board_a, "/openapi.json").json()

    assert {"/status", "/sessions", "/sessions/{session_id}"} <= set(document["paths"])
    assert "SessionSubmission" in json.dumps(document["components"])


def _standard_text(node):
    text = catalogue_text("pathways_by_quintile")
    request = parse_request_text(text, node.federation.schemas())
    return text, request.digest
