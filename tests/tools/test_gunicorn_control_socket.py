"""Our gunicorn servers each keep their own control socket, so stopping one stack never breaks another."""
from __future__ import annotations

import time

from tools import processes
from tools.redis_server import free_port


def _wait_for(path, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.05)
    return path.exists()


def test_two_servers_have_separate_control_sockets_and_survive_each_other(tmp_path):
    servers = []
    for name in ("first", "second"):
        log_dir = tmp_path / name
        log_dir.mkdir()
        port = free_port()
        process = processes.start_gunicorn("bench.bare_app:app", port=port, env={}, workers=1, threads=1,
                                           log_path=log_dir / "gunicorn.log")
        servers.append((process, log_dir / f"gunicorn-{port}.ctl"))
    try:
        for process, socket_path in servers:
            assert _wait_for(socket_path), f"no control socket at {socket_path}"
        processes.stop(servers[0][0])
        assert not servers[0][1].exists()
        assert servers[1][1].exists()
    finally:
        for process, _ in servers:
            processes.stop(process)


def test_api_config_puts_its_control_socket_under_the_data_dir(tmp_path, monkeypatch):
    import runpy

    monkeypatch.setenv("MSB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MSB_BIND", "127.0.0.1:18700")
    config = runpy.run_path("gunicorn.conf.py")
    assert config["control_socket"] == str(tmp_path / "run" / "gunicorn-api-18700.ctl")
    assert (tmp_path / "run").is_dir()
