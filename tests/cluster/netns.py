"""Test hosts on one machine: Linux network namespaces joined by a bridge, and a Ray cluster across them.

How this works: ``TestHosts`` makes one namespace per host (``sl<run>h0``,
``sl<run>h1``, ...) and one for the switch (``sl<run>sw``, a bridge), each
host joined to the switch by a veth pair, on 198.18.0.0/24 (RFC 2544's
range for benchmarking networks; it lives only inside these namespaces).
Names carry a random run id, so two test runs never meet. ``RayCluster``
starts ``ray start --head --block`` in the first host and ``ray start
--address --block`` in the others, every one with ``RAY_AUTH_MODE=token``
and one shared token, as on real machines. Closing ends every process in
every namespace (``ip netns pids``: only what runs in namespaces this run
made) and deletes the namespaces, whatever happened before.

Also a script: ``python tests/cluster/netns.py up N`` prints the commands of a
cluster it leaves running, ``down RUN`` ends it (the benchmark uses these).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUBNET = "198.18.0"
RAY_PORT = 6380
NODE_RESOURCE = "seatlab_node"


def can_make_namespaces() -> str | None:
    """None when this machine can make the test hosts, else the reason it cannot."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2) on PATH"
    probe = f"slprobe{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], check=False, capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], check=False, capture_output=True)
    return None


def _ip(*args: str, ns: str | None = None) -> None:
    command = ["ip", *args] if ns is None else ["ip", "-n", ns, *args]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")


class TestHosts:
    """``count`` hosts in namespaces on one bridge; ``address(i)`` is host i's IP."""

    def __init__(self, count: int, run: str | None = None) -> None:
        self.count = count
        self.run = run or secrets.token_hex(3)
        self.names = [f"sl{self.run}h{i}" for i in range(count)]
        self.switch = f"sl{self.run}sw"

    def address(self, i: int) -> str:
        return f"{SUBNET}.{i + 1}"

    def up(self) -> TestHosts:
        try:
            _ip("netns", "add", self.switch)
            _ip("link", "add", "br0", "type", "bridge", ns=self.switch)
            _ip("link", "set", "br0", "up", ns=self.switch)
            _ip("link", "set", "lo", "up", ns=self.switch)
            for i, name in enumerate(self.names):
                _ip("netns", "add", name)
                _ip("link", "set", "lo", "up", ns=name)
                outside, inside = f"sl{self.run}p{i}", f"sl{self.run}e{i}"
                _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                _ip("link", "set", outside, "netns", self.switch)
                _ip("link", "set", inside, "netns", name)
                _ip("link", "set", inside, "name", "eth0", ns=name)
                _ip("link", "set", outside, "master", "br0", ns=self.switch)
                _ip("link", "set", outside, "up", ns=self.switch)
                _ip("addr", "add", f"{self.address(i)}/24", "dev", "eth0", ns=name)
                _ip("link", "set", "eth0", "up", ns=name)
        except BaseException:
            self.down()
            raise
        return self

    def command(self, i: int, argv: list[str]) -> list[str]:
        """``argv`` run inside host i."""
        return ["ip", "netns", "exec", self.names[i], *argv]

    def down(self) -> None:
        """End every process in these namespaces, then delete them (errors ignored: best effort, twice)."""
        for ns in [*self.names, self.switch]:
            for _ in range(2):
                pids = subprocess.run(
                    ["ip", "netns", "pids", ns], check=False, capture_output=True, text=True
                ).stdout
                for pid in pids.split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                if pids.strip():
                    time.sleep(0.2)
            subprocess.run(["ip", "netns", "delete", ns], check=False, capture_output=True)


class RayCluster:
    """A Ray head on host 0 and a worker on each other host; one token; ``env`` for drivers."""

    def __init__(self, hosts: TestHosts, python: str = sys.executable, cpus: int = 1) -> None:
        self.hosts = hosts
        self.python = python
        self.cpus = cpus
        self.token = secrets.token_hex(16)
        self.temp_dir = Path(f"/tmp/sl{hosts.run}ray")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    @property
    def address(self) -> str:
        return f"{self.hosts.address(0)}:{RAY_PORT}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every Ray process and driver of this cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, "RAY_USAGE_STATS_ENABLED": "0"}
        return env

    def _start(self, i: int, args: list[str]) -> None:
        ray = str(Path(self.python).parent / "ray")
        resources = json.dumps({NODE_RESOURCE: 1, f"seatlab_host_{i}": 1})
        argv = [
            ray, "start", "--block", "--disable-usage-stats", f"--node-ip-address={self.hosts.address(i)}",
            f"--num-cpus={self.cpus}", f"--resources={resources}", "--object-store-memory=80000000",
            *args,
        ]  # fmt: skip
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        log = self.temp_dir / f"node{i}.log"
        self.logs.append(log)
        with open(log, "wb") as sink:
            proc = subprocess.Popen(
                self.hosts.command(i, argv), env=self.env, stdout=sink, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)

    def up(self, timeout_s: float = 90.0) -> RayCluster:
        try:
            self._start(0, ["--head", f"--port={RAY_PORT}", "--include-dashboard=false",
                            f"--temp-dir={self.temp_dir}"])  # fmt: skip
            self._wait_nodes(1, timeout_s)
            for i in range(1, self.hosts.count):  # one at a time: a loaded 2-core machine times out on two
                self._start(i, [f"--address={self.address}"])
                self._wait_nodes(i + 1, timeout_s)
        except BaseException:
            self.down()
            raise
        return self

    def driver(self, code: str, timeout_s: float = 60.0) -> str:
        """Run a Python snippet as a driver on host 0 (it may print); return its stdout."""
        done = subprocess.run(
            self.hosts.command(0, [self.python, "-c", code]), env=self.env, check=False, capture_output=True, text=True,
            timeout=timeout_s,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"driver failed ({done.returncode}): {done.stderr[-3000:]}")
        return done.stdout

    def _wait_nodes(self, n: int, timeout_s: float) -> None:
        code = (
            "import ray, sys\n"
            f"ray.init(address={self.address!r}, logging_level='ERROR')\n"
            "print(sum(1 for node in ray.nodes() if node['Alive']))\n"
        )
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            for proc, log in zip(self.procs, self.logs, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"ray start ended ({proc.returncode}): {log.read_text()[-3000:]}")
            try:
                if int(self.driver(code).split()[-1]) >= n:
                    return
            except (RuntimeError, ValueError, IndexError, subprocess.TimeoutExpired) as exc:
                last = str(exc)
            time.sleep(1.0)
        raise RuntimeError(f"the Ray cluster did not reach {n} nodes in {timeout_s:g} s: {last[-2000:]}")

    def down(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def on_host(
    cluster: RayCluster, i: int, argv: list[str], cwd: Path, timeout_s: float = 240
) -> subprocess.CompletedProcess[str]:
    """``argv`` run in host i with the cluster's token, from ``cwd``."""
    env = cluster.env | {"PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "cluster"), str(REPO)])}
    return subprocess.run(
        cluster.hosts.command(i, argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s,
        check=False,
    )  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "up":
        hosts = TestHosts(int(sys.argv[2])).up()
        cluster = RayCluster(hosts).up()
        print(json.dumps({"run": hosts.run, "hosts": hosts.names, "address": cluster.address,
                          "token": cluster.token}))  # fmt: skip
        for proc in cluster.procs:  # leave them running: `down RUN` ends them
            proc.returncode = 0
    elif len(sys.argv) == 3 and sys.argv[1] == "down":
        TestHosts(0, run=sys.argv[2]).down()
        hosts = TestHosts(4, run=sys.argv[2])
        hosts.down()
        shutil.rmtree(f"/tmp/sl{sys.argv[2]}ray", ignore_errors=True)
    else:
        raise SystemExit("usage: netns.py up N | down RUN")
