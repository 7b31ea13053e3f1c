"""Logging set-up for the entry points (node, session, coordinator, command line).

Library modules only create ``logging.getLogger(__name__)``; this is the one
place that configures handlers. Every line carries the party's name, so that the
logs of several nodes on one machine can be told apart. MPyC configures the root
logger when it is imported; ``force=True`` replaces whatever it set.
"""

from __future__ import annotations

import logging
import sys


class _PartyFilter(logging.Filter):
    def __init__(self, party: str) -> None:
        super().__init__()
        self.party = party

    def filter(self, record: logging.LogRecord) -> bool:
        record.party = self.party
        return True


def configure_logging(party: str, level: str | int = "INFO") -> None:
    """Send log lines to standard error as ``time party level logger: message``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_PartyFilter(party))
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(party)s %(levelname)s %(name)s: %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
