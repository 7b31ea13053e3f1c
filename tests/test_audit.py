"""Tests of a node's append-only audit log."""

from __future__ import annotations

import datetime
import json
import stat

import pytest

from mpc.errors import CrpError
from parties.audit import AuditLog

NOW = datetime.datetime(2026, 3, 2, 14, 0, tzinfo=datetime.UTC)
DIGEST = "ab" * 32


def test_appends_one_json_line_per_event(tmp_path):
    audit = AuditLog(tmp_path / "audit" / "node.jsonl", "board_a")

    audit.record(
        "accepted", coordinator="researcher", session="s1", digest=DIGEST, cells=12
    )
    audit.record(
        "refused",
        coordinator="researcher",
        session="s2",
        digest=DIGEST,
        rule="columns",
        reason="Node board_a refuses the request (rule columns): ...",
    )

    lines = (tmp_path / "audit" / "node.jsonl").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["outcome"] == "accepted"
    assert first["node"] == "board_a"
    assert first["coordinator"] == "researcher"
    assert first["digest"] == DIGEST
    assert first["cells"] == 12
    assert "rule" not in first
    assert second["rule"] == "columns"
    assert datetime.datetime.fromisoformat(second["time"]).tzinfo is not None


def test_keeps_earlier_lines_when_reopened(tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path, "board_a").record("accepted", coordinator="researcher")

    AuditLog(path, "board_a").record("completed", coordinator="researcher")

    outcomes = [entry["outcome"] for entry in AuditLog(path, "board_a").entries()]
    assert outcomes == ["accepted", "completed"]


def test_the_file_is_private_to_the_node(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl", "board_a")

    audit.record("accepted", coordinator="researcher")

    assert stat.S_IMODE(audit.path.stat().st_mode) == 0o600


def test_counts_requests_accepted_in_the_last_24_hours(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl", "board_a")
    for hours_ago in (30, 23, 2):
        audit.record(
            "accepted",
            coordinator="researcher",
            now=NOW - datetime.timedelta(hours=hours_ago),
        )
    audit.record("refused", coordinator="researcher", rule="columns", now=NOW)
    audit.record("completed", coordinator="researcher", now=NOW)

    count = audit.accepted_last_day(now=NOW)

    assert count == 2


def test_skips_a_torn_last_line(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl", "board_a")
    audit.record("accepted", coordinator="researcher", now=NOW)
    with audit.path.open("a") as handle:
        handle.write('{"time": "2026-03-02T13:59')

    count = audit.accepted_last_day(now=NOW)

    assert count == 1


def test_rejects_an_unknown_outcome(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl", "board_a")

    with pytest.raises(CrpError, match=r"Audit outcome 'ok' is unknown"):
        audit.record("ok", coordinator="researcher")
