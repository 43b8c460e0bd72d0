"""Shared pytest fixtures.

Every test starts and ends with a fresh Brian2 state: the active device
re-initialised and the runtime device selected, a new scope, ``dt = 0.1 ms``,
and the Brian2 preferences put back as they were. Standalone builds go to a
build cache under pytest's temporary directory (``SNN_BUILD_CACHE``), never to
the user's ``~/.cache``; it is shared by the tests of one session, so a network
compiled by one test is reused by the next (set ``SNN_TEST_BUILD_CACHE`` to a
directory to keep it between sessions). Tests that need an empty cache use the
``build_cache`` fixture.
"""

from __future__ import annotations

import copy
import importlib
import os
from pathlib import Path

import brian2
import pytest
from brian2 import defaultclock, ms, prefs
from brian2.devices.device import all_devices, get_device, set_device

# The module itself (brian2.devices.device is also the name of the device proxy).
brian_device_module = importlib.import_module("brian2.devices.device")

BUILD_CACHE_ENV = "SNN_BUILD_CACHE"
TEST_CACHE_ENV = "SNN_TEST_BUILD_CACHE"


def reset_brian() -> None:
    """Forget the active device's state, select the runtime device, dt = 0.1 ms,
    new scope."""
    device = get_device()
    if device is not None:
        device.reinit()
    set_device("runtime")
    brian_device_module.previous_devices.clear()  # set_device pushes onto this stack
    all_devices["runtime"].reinit()
    defaultclock.dt = 0.1 * ms
    brian2.start_scope()


def _snapshot_prefs() -> dict:
    return {name: copy.deepcopy(value) for name, value in prefs.prefs.items()}


def _restore_prefs(snapshot: dict) -> None:
    for name, value in snapshot.items():
        try:
            prefs[name] = value
        except Exception:  # a preference category unregistered meanwhile: leave it
            pass


@pytest.fixture(scope="session")
def session_build_cache(tmp_path_factory):
    """Build-cache root shared by the tests of this session.

    A fresh temporary directory, unless ``SNN_TEST_BUILD_CACHE`` names a directory to
    keep between sessions (then a second ``pytest`` run reuses the compiled C++ and
    CUDA projects: the CUDA compile takes minutes on two cores, a warm one seconds).
    """
    keep = os.environ.get(TEST_CACHE_ENV)
    if keep:
        root = Path(keep).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return root
    return tmp_path_factory.mktemp("brian-builds")


@pytest.fixture(autouse=True)
def fresh_brian(session_build_cache, monkeypatch):
    """Fresh Brian2 device, scope, dt and preferences around every test; standalone
    builds go to the session's build cache."""
    monkeypatch.setenv(BUILD_CACHE_ENV, str(session_build_cache))
    snapshot = _snapshot_prefs()
    reset_brian()
    yield
    reset_brian()
    _restore_prefs(snapshot)


@pytest.fixture
def build_cache(tmp_path, monkeypatch):
    """An empty build-cache root for this test only (also set as SNN_BUILD_CACHE)."""
    root = tmp_path / "brian-builds"
    root.mkdir()
    monkeypatch.setenv(BUILD_CACHE_ENV, str(root))
    return root


@pytest.fixture
def no_compile(monkeypatch):
    """Fail the test if anything tries to select a device or build: for input that
    must be refused before any compilation."""
    import models.devices as devices

    def forbidden(*args, **kwargs):
        raise AssertionError("compilation must not start for invalid input")

    # Callers import both from the package at call time; the submodules that define
    # them are patched as well, for a caller that imports from there.
    monkeypatch.setattr(devices, "select_device", forbidden)
    monkeypatch.setattr(devices, "build", forbidden)
    monkeypatch.setattr(devices.selection, "select_device", forbidden)
    monkeypatch.setattr(devices.compiled, "build", forbidden)


class FileServer:
    """A small HTTP server on 127.0.0.1 (:func:`file_server`): ``routes`` maps a path
    (``/mnist/train-images-idx3-ubyte.gz``) to the bytes it serves, ``truncated`` holds
    paths whose response announces more bytes (``Content-Length``) than it sends before
    closing the connection, ``requests`` lists the paths asked for."""

    def __init__(self):
        import http.server
        import threading

        self.routes, self.truncated, self.requests = {}, set(), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                extra = 1000 if self.path in server.truncated else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                self.wfile.write(body)
                if extra:
                    self.close_connection = True

            def log_message(self, *args):  # keep pytest's output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    """A :class:`FileServer` on a free port of 127.0.0.1 for this test (nothing goes to
    the internet); stopped afterwards."""
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def closed_port_url():
    """``http://127.0.0.1:<port>`` of a port nothing listens on: a refused connection."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
