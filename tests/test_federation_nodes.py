"""Real node processes on 127.0.0.1 with real certificates, asked by the coordinator.

Each cluster is started once per module (the six-node one once for its test):
synthetic data at a small scale, certificates from `crp certs`, one `crp node`
process per partner. A failing test shows every node's log (see conftest.py),
and no node or session process may outlive the module.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_certificate

from mpc.errors import CrpError
from parties.certs import (
    create_authority,
    issue_certificate,
    member_paths,
    write_certificate,
    write_key,
)
from parties.coordinator import (
    CoordinatorIdentity,
    NodeCallFailed,
    NodeClient,
    RequestFailed,
    follow_session,
    identity_from_prefix,
    request_table,
)
from parties.data import load_partner_data
from parties.demo import (
    COMPUTE_PARTNERS,
    DATA_PARTNERS,
    DemoFederation,
    catalogue_text,
    write_demo_federation,
)
from parties.launch import LocalNodes
from parties.node_sessions import child_environment
from parties.reference import reference_table
from parties.request import parse_request_text
from parties.synth import synthetic_schemas
from parties.table import ReleasedTable
from parties.tls import client_context

pytestmark = pytest.mark.processes

STANDARD = catalogue_text("pathways_by_quintile")
SHORT_SESSIONS = {"connect_timeout": 10, "step_timeout": 30, "deadline": 120}
BOARD_COLUMNS = sorted(synthetic_schemas()["board"].columns)

BY_GENDER = """
name = "by_gender"
[population]
partners = ["board_a", "board_b"]
where = "grade9_year >= 2015"
[[rows]]
column = "gender"
[[measures]]
name = "ossd"
when = "ossd_year != null"
[disclosure]
min_cell_size = 10
"""


@dataclass
class Cluster:
    """A running local federation, as the tests use it."""

    demo: DemoFederation
    nodes: LocalNodes

    def failure_logs(self) -> str:
        return self.nodes.logs()

    def request(self, text: str = STANDARD, **options) -> ReleasedTable:
        options.setdefault("identity", self.demo.identity)
        options.setdefault("timeout", 120.0)
        return request_table(self.demo.federation, text, **options)

    def reference(self, text: str = STANDARD) -> ReleasedTable:
        schemas = self.demo.federation.schemas()
        request = parse_request_text(text, schemas)
        frames = {
            name: load_partner_data(path, schemas[name]).frame
            for name, path in self.demo.data.items()
        }
        return reference_table(request, frames, schemas=schemas)

    def audit(self, name: str) -> list[dict]:
        path = self.demo.configs[name].parent / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def client(self, name: str, identity: CoordinatorIdentity | None = None):
        identity = identity or self.demo.identity
        context = client_context(identity.certificate, identity.key, identity.authority)
        return NodeClient(self.demo.federation.node(name), context)


def _session_processes(folder: Path) -> list[int]:
    """Processes whose command line names a file under ``folder`` (nodes, sessions)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(folder) in command and state != "Z":
            found.append(int(entry.name))
    return found


def _start_cluster(folder: Path, names, **options):
    demo = write_demo_federation(folder, names=names, scale=0.02, **options)
    nodes = demo.nodes()
    nodes.start_all()
    try:
        nodes.wait_ready(demo.identity, timeout=90.0)
    except CrpError as exc:
        nodes.stop_all()
        pytest.fail(f"The nodes did not start: {exc}\n{nodes.logs()}")
    return Cluster(demo, nodes)


def _stop_cluster(cluster: Cluster) -> None:
    cluster.nodes.stop_all()
    left = _session_processes(cluster.demo.folder)
    for pid in left:
        os.kill(pid, 9)
    assert not left, f"Processes {left} outlived the nodes.\n{cluster.nodes.logs()}"


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    """Four data partners; board_b's policy keeps its gender column back."""
    cluster = _start_cluster(
        tmp_path_factory.mktemp("four"),
        DATA_PARTNERS,
        seed=21,
        policies={"board_b": {"columns": [c for c in BOARD_COLUMNS if c != "gender"]}},
        sessions=SHORT_SESSIONS,
    )
    yield cluster
    _stop_cluster(cluster)


@pytest.fixture
def six(tmp_path):
    cluster = _start_cluster(tmp_path, DATA_PARTNERS + COMPUTE_PARTNERS, seed=22)
    yield cluster
    _stop_cluster(cluster)


def test_six_nodes_release_the_standard_table_of_the_reference(six):
    phases = []

    table = six.request(on_progress=lambda seen: phases.append(dict(seen)))

    expected = six.reference()
    assert table.same_release(expected), (
        f"MPC:\n{table.render()}\nreference:\n{expected.render()}"
    )
    assert set(phases[-1].values()) == {"done"}
    assert len(phases[-1]) == 6
    outcomes = [entry["outcome"] for entry in six.audit("foundation")]
    assert outcomes == ["accepted", "completed", "released"]


def test_a_refusal_names_the_node_and_the_rule(four):
    with pytest.raises(
        RequestFailed,
        match=r"Node board_b refuses the request \(rule columns\).*'gender'",
    ):
        four.request(BY_GENDER)

    refusal = four.audit("board_b")[-1]
    assert (refusal["outcome"], refusal["rule"]) == ("refused", "columns")
    cancelled = four.audit("board_a")[-1]
    assert cancelled["outcome"] == "aborted"
    assert cancelled["reason"].startswith("Cancelled by coordinator")


def test_a_certificate_of_another_authority_is_rejected(four, tmp_path):
    key, authority = create_authority("impostor-authority")
    coordinator_key, certificate = issue_certificate(
        key, authority, "coordinator", four.demo.identity.name
    )
    certificate_path, key_path = member_paths(tmp_path, "coordinator", "stranger")
    write_certificate(certificate_path, certificate)
    write_key(key_path, coordinator_key)
    identity = CoordinatorIdentity(
        four.demo.identity.name,
        certificate_path,
        key_path,
        four.demo.identity.authority,  # trusts the real nodes, is not trusted back
    )
    audit_lines = len(four.audit("board_a"))

    started = time.monotonic()
    with pytest.raises(
        RequestFailed, match=r"not sent\. Node board_a at https://127\.0\.0\.1:\d+ "
    ):
        four.request(identity=identity)

    assert time.monotonic() - started < 15
    assert len(four.audit("board_a")) == audit_lines


def test_the_coordinator_checks_which_node_answers(four):
    # A federation file that puts college at board_a's address.
    board_a = four.demo.federation.node("board_a")
    college = replace(four.demo.federation.node("college"), host=board_a.host)
    college = replace(college, control_port=board_a.control_port)
    identity = four.demo.identity
    context = client_context(identity.certificate, identity.key, identity.authority)

    async def status():
        client = NodeClient(college, context)
        try:
            return await client.status()
        finally:
            await client.close()

    with pytest.raises(NodeCallFailed, match=r"certificate for node board_a, not for"):
        asyncio.run(status())


def test_a_coordinator_the_federation_does_not_list_is_rejected(four, tmp_path):
    certs = four.demo.folder / "certs"
    authority = load_pem_x509_certificate((certs / "ca.crt").read_bytes())
    authority_key = serialization.load_pem_private_key(
        (certs / "ca.key").read_bytes(), password=None
    )
    key, certificate = issue_certificate(
        authority_key, authority, "coordinator", "intruder"
    )
    certificate_path, key_path = member_paths(tmp_path, "coordinator", "intruder")
    write_certificate(certificate_path, certificate)
    write_key(key_path, key)
    (tmp_path / "ca.crt").write_bytes((certs / "ca.crt").read_bytes())
    intruder = identity_from_prefix(tmp_path / "coordinator-intruder")

    with pytest.raises(RequestFailed, match=r"Node board_a refuses coordinator 'intr"):
        four.request(identity=intruder)

    # A request sent anyway is refused and audited.
    async def submit():
        client = four.client("college", intruder)
        try:
            return await client.submit("intruder-session", STANDARD, "0" * 64)
        finally:
            await client.close()

    with pytest.raises(NodeCallFailed, match=r"does not list it") as refused:
        asyncio.run(submit())
    assert refused.value.status == 403
    last = four.audit("college")[-1]
    assert (last["coordinator"], last["outcome"], last["rule"]) == (
        "intruder",
        "refused",
        "coordinators",
    )


async def _run_session(
    cluster: Cluster, texts: dict[str, str], names: list[str] | None = None
) -> tuple[str, list[dict]]:
    """Submit per-node request texts under one session id, follow it to its end."""
    names = names or [node.name for node in cluster.demo.federation.nodes]
    schemas = cluster.demo.federation.schemas()
    clients = [cluster.client(name) for name in names]
    session_id = secrets.token_hex(16)
    try:
        for client in clients:
            text = texts.get(client.name, STANDARD)
            digest = parse_request_text(text, schemas).digest
            await client.submit(session_id, text, digest)
        with pytest.raises(RequestFailed) as failure:
            await follow_session(clients, session_id, None, 90.0, 0.2)
        views = [await client.session(session_id) for client in clients]
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return str(failure.value), views


def test_nodes_abort_when_one_computes_a_different_request(four):
    different = STANDARD.replace("min_cell_size = 10", "min_cell_size = 11")
    assert different != STANDARD

    _, views = asyncio.run(_run_session(four, {"college": different}))

    # A party that spots the mismatch aborts at once, so a peer may first see
    # it disconnect; either way nobody goes past the first message.
    assert all(view["status"] == "aborted" for view in views), views
    assert all(view["output"] is None for view in views), views
    errors = [view["error"] for view in views]
    assert any("computing a different request" in error for error in errors), errors
    for error in errors:
        assert "different request" in error or "disconnected" in error, errors


def test_a_party_claiming_another_party_index_is_rejected(four, tmp_path):
    # The impostor runs party 0 (board_a) with board_b's certificate and key.
    federation = four.demo.folder / "federation.toml"
    nodes = four.demo.federation.nodes
    certificate, key = member_paths(four.demo.folder / "certs", "node", "board_b")
    spec = {
        "party": 0,
        "node": "impostor",
        "node_names": [n.name for n in nodes],
        "addresses": [[n.host, n.mpc_port] for n in nodes],
        "threshold": four.demo.federation.effective_threshold,
        "federation": str(federation),
        "request_text": STANDARD,
        "output": str(tmp_path / "output.json"),
        "connect_timeout": 10,
        "tls": {
            "certificate": str(certificate),
            "key": str(key),
            "authority": str(four.demo.identity.authority),
        },
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    impostor = subprocess.Popen(
        [sys.executable, "-m", "parties.session", str(tmp_path / "spec.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_environment(),
    )
    try:
        _, views = asyncio.run(
            _run_session(four, {}, names=["board_b", "college", "university"])
        )
    finally:
        impostor.kill()
        impostor.wait()

    for view in views:
        assert view["status"] == "aborted", view
        assert (
            "a peer claimed party 0 (board_a) with a certificate naming 'board_b'"
            in view["error"]
        ), view
    assert not (tmp_path / "output.json").exists()


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _kill_mid_session(cluster: Cluster, pending, seen: dict[str, str]) -> float:
    """Wait until the victim pauses inside the session, check that a second
    request is refused meanwhile, then SIGKILL the victim; returns the time."""
    deadline = time.monotonic() + 60
    while seen.get("university") != "shuffle":
        assert time.monotonic() < deadline, f"phases seen: {seen}"
        assert not pending.done(), pending.exception()
        time.sleep(0.05)

    async def second():
        client = cluster.client("board_a")
        digest = parse_request_text(STANDARD, cluster.demo.federation.schemas()).digest
        try:
            return await client.submit("second-request", STANDARD, digest)
        finally:
            await client.close()

    with pytest.raises(NodeCallFailed, match=r"busy with session \w+ \(phase"):
        asyncio.run(second())

    cluster.nodes["university"].kill()
    return time.time()


def test_a_node_killed_mid_session_makes_the_others_abort_and_recover(four):
    victim = four.nodes["university"]
    survivors = ["board_a", "board_b", "college"]
    victim.stop()
    victim.start({"CRP_TEST_PAUSE_PHASE": "shuffle:60"})
    four.nodes.wait_ready(four.demo.identity, names=["university"])

    # Ask for the table and wait until the victim pauses inside the session.
    seen: dict[str, str] = {}
    with ThreadPoolExecutor(1) as pool:
        try:
            pending = pool.submit(four.request, on_progress=seen.update)
            killed = _kill_mid_session(four, pending, seen)
            with pytest.raises(
                RequestFailed,
                # Peers abort in a cascade: each names the first link it lost.
                match=r"Node university .*cannot be reached.* aborted: Party 3 "
                r"disconnected in the middle of the session",
            ):
                pending.result(timeout=60)
        finally:
            victim.kill()  # (a no-op unless the test failed before the kill)

    # The others abort by themselves, in bounded time, and free their ports.
    async def statuses():
        clients = [four.client(name) for name in survivors]
        try:
            return await asyncio.gather(*(c.status() for c in clients))
        finally:
            await asyncio.gather(*(c.close() for c in clients))

    while any(status["busy"] for status in asyncio.run(statuses())):
        assert time.time() - killed < 30, "the others did not abort in 30 s"
        time.sleep(0.2)
    for name in survivors:
        node = four.demo.federation.node(name)
        assert _port_is_free(node.host, node.mpc_port), name
        last = four.audit(name)[-1]
        assert last["outcome"] == "aborted"
        ended = datetime.datetime.fromisoformat(last["time"]).timestamp()
        assert ended - killed < 30, (name, ended - killed)
    assert not [
        pid
        for pid in _session_processes(four.demo.folder)
        if pid not in {four.nodes[name].pid for name in four.nodes.nodes}
    ]

    # While the victim is down, a request fails fast and names it.
    started = time.monotonic()
    with pytest.raises(RequestFailed, match=r"Node university at \S+ cannot be reach"):
        four.request()
    assert time.monotonic() - started < 15

    # Back up, the federation answers the next request correctly.
    victim.start()
    four.nodes.wait_ready(four.demo.identity, names=["university"])
    table = four.request()
    assert table.same_release(four.reference())


def test_a_spent_privacy_budget_is_refused_also_after_a_restart(tmp_path):
    budgets = {"board_a": {"privacy_budget_rho": 0.6}}
    cluster = _start_cluster(
        tmp_path,
        ("board_a", "board_b", "college"),
        seed=25,
        policies=budgets,
        sessions=SHORT_SESSIONS,
    )
    noisy = BY_GENDER.replace("min_cell_size = 10", "min_cell_size = 10\nepsilon = 1.0")
    try:
        table = cluster.request(noisy)
        assert table.disclosure["epsilon"] == 1.0

        with pytest.raises(RequestFailed, match=r"board_a.*privacy_budget_rho"):
            cluster.request(noisy)

        node = cluster.nodes["board_a"]
        node.stop()
        node.start()
        cluster.nodes.wait_ready(cluster.demo.identity, names=["board_a"], timeout=60)
        with pytest.raises(RequestFailed, match=r"board_a.*privacy_budget_rho"):
            cluster.request(noisy)
        refusals = [e for e in cluster.audit("board_a") if e["outcome"] == "refused"]
        assert [e["rule"] for e in refusals] == ["privacy_budget_rho"] * 2
    finally:
        _stop_cluster(cluster)
