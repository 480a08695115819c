"""A private 3-master Redis Cluster for tests and benches: three redis-servers on free ports, slots
spread by `redis-cli --cluster create`, no replicas. Its ``url`` uses the ``redis-cluster://`` scheme that
``kernel.redis.redis_client`` understands, so the whole project can be pointed at it unchanged."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tools.redis_server import free_port, wait_for_ping


class RedisClusterServers:
    def __init__(self, data_dir: Path, masters: int = 3) -> None:
        self.data_dir = Path(data_dir)
        self.ports = [free_port() for _ in range(masters)]
        # The cluster bus defaults to port + 10000, which may be taken or out of range: name free ones.
        self.bus_ports = [free_port() for _ in range(masters)]
        self._processes: list[subprocess.Popen] = []
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; `make test` installs it")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis-cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 20.0) -> None:
        for port, bus_port in zip(self.ports, self.bus_ports):
            node_dir = self.data_dir / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            self._processes.append(subprocess.Popen(
                [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
                 "--cluster-enabled", "yes", "--cluster-port", str(bus_port), "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
                 "--appendonly", "no", "--save", "", "--logfile", str(node_dir / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port, process in zip(self.ports, self._processes):
            wait_for_ping(port, timeout, process, self.data_dir / str(port) / "redis.log")
        created = subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{port}" for port in self.ports],
             "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise RuntimeError(f"cluster create failed: {created.stdout[-500:]} {created.stderr[-500:]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._cluster_ok(port) for port in self.ports):
                return
            time.sleep(0.1)
        raise RuntimeError("cluster did not reach cluster_state:ok")

    @staticmethod
    def _cluster_ok(port: int) -> bool:
        info = redis.Redis(port=port, decode_responses=True).cluster("info")
        return info.get("cluster_state") == "ok"

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes = []

    @property
    def running(self) -> bool:
        return bool(self._processes) and all(process.poll() is None for process in self._processes)
