"""Shared pytest set-up: put the repository on the path for the helper modules.

A fixture value with a ``failure_logs()`` method (such as the node clusters of
``test_federation_nodes.py``) gets its logs appended to the report of any test
that fails while using it, so that every node's log shows with the failure.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        logs = getattr(value, "failure_logs", None)
        if callable(logs):
            report.sections.append((f"logs of every node ({name})", logs()))
