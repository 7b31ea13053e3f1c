"""Starting and stopping node processes on this machine (the demo and the tests).

In production each partner starts its own node. The demonstration and the
integration tests instead start every node of a federation here, each as a
separate ``crp node`` process with its own log file. :class:`LocalNodes` makes
sure none is left behind: leaving its ``with`` block, on success, error or
Ctrl-C, stops every node with SIGTERM and kills those that do not stop in time.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from mpc.errors import CrpError
from parties.coordinator import CoordinatorIdentity, NodeCallFailed, NodeClient
from parties.federation import Federation
from parties.node_sessions import child_environment
from parties.tls import client_context

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0


class NodeProcess:
    """One ``crp node`` process and its log file."""

    def __init__(self, name: str, config: Path, log: Path) -> None:
        self.name = name
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        """Start the node; its output is appended to its log file."""
        if self.running:
            raise CrpError(f"Node {self.name} is already running.")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = child_environment()
        env.update(extra_env or {})
        with self.log.open("ab") as log:
            command = [sys.executable, "-m", "parties.cli", "node"]
            self.process = subprocess.Popen(
                [*command, "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                # Own process group: a Ctrl-C meant for the demo reaches the
                # nodes only through stop(), once.
                start_new_session=True,
            )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "Node %s did not stop in %g s; killing it.", self.name, timeout
                )
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the node at once (fault tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_text(self, lines: int | None = None) -> str:
        if not self.log.exists():
            return ""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:]) if lines else text


class LocalNodes:
    """Every node of a federation as a local process; a context manager."""

    def __init__(
        self,
        federation: Federation,
        configs: dict[str, Path],
        logs: Path,
    ) -> None:
        self.federation = federation
        self.nodes = {
            name: NodeProcess(name, config, logs / f"{name}.log")
            for name, config in configs.items()
        }

    def __enter__(self) -> LocalNodes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    def __getitem__(self, name: str) -> NodeProcess:
        return self.nodes[name]

    def start_all(self) -> None:
        for node in self.nodes.values():
            node.start()

    def stop_all(self) -> None:
        """Send SIGTERM to every node at once, then wait for each (or kill it)."""
        for node in self.nodes.values():
            if node.running and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            node.stop()

    def wait_ready(
        self,
        identity: CoordinatorIdentity,
        *,
        names: list[str] | None = None,
        timeout: float = 120.0,
    ) -> None:
        """Wait until the nodes answer their status; fail early if one exits."""
        names = names or list(self.nodes)
        asyncio.run(self._wait_ready(identity, names, timeout))

    async def _wait_ready(
        self, identity: CoordinatorIdentity, names: list[str], timeout: float
    ) -> None:
        context = client_context(identity.certificate, identity.key, identity.authority)
        clients = {
            name: NodeClient(self.federation.node(name), context, timeout=5.0)
            for name in names
        }
        deadline = time.monotonic() + timeout
        waiting = set(names)
        try:
            while waiting:
                for name in sorted(waiting):
                    process = self.nodes[name]
                    if not process.running:
                        raise CrpError(
                            f"Node {name} exited during start-up; its log ends with:\n"
                            f"{process.log_text(30)}"
                        )
                    try:
                        await clients[name].status(timeout=2.0)
                        waiting.discard(name)
                    except NodeCallFailed:
                        pass
                if not waiting:
                    break
                if time.monotonic() > deadline:
                    raise CrpError(
                        f"Nodes {', '.join(sorted(waiting))} were not ready within "
                        f"{timeout:g} s."
                    )
                await asyncio.sleep(0.2)
        finally:
            await asyncio.gather(*(c.close() for c in clients.values()))

    def logs(self, lines: int | None = None) -> str:
        """Every node's log, one after the other (for failure reports)."""
        parts = []
        for node in self.nodes.values():
            text = node.log_text(lines)
            parts.append(f"--- {node.name} (pid {node.pid}) ---\n{text}")
        return "\n".join(parts)
