"""Shared pytest fixtures for Ferry's end-to-end tests (see harness.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import FerryNode, Influxd1, ferry_bin  # noqa: E402


@pytest.fixture(scope="session")
def ferry_path() -> Path:
    p = ferry_bin()
    if not p.is_file():
        pytest.fail(f"ferry binary not found at {p} (build it: cargo build --release -p ferry, "
                    f"or set FERRY_BIN)", pytrace=False)
    return p


@pytest.fixture
def make_node(ferry_path, tmp_path_factory):
    """Factory: make_node(**FerryNode kwargs) -> started node; all stopped at teardown."""
    nodes: list[FerryNode] = []

    def make(start: bool = True, **kw) -> FerryNode:
        base = tmp_path_factory.mktemp("ferry")
        n = FerryNode(base / "data", base / "logs", **kw)
        nodes.append(n)
        return n.start() if start else n

    yield make
    for n in nodes:
        n.kill()


@pytest.fixture
def node(make_node) -> FerryNode:
    """A fresh node (own data dir) for one test."""
    return make_node()


@pytest.fixture(scope="module")
def module_node(ferry_path, tmp_path_factory):
    """One node shared by all tests of a module."""
    base = tmp_path_factory.mktemp("ferry-mod")
    n = FerryNode(base / "data", base / "logs").start()
    yield n
    n.kill()


@pytest.fixture(scope="session")
def influxd1(tmp_path_factory):
    """A throw-away InfluxDB 1.6 on 127.0.0.1 (auth off), one per session."""
    srv = Influxd1(tmp_path_factory.mktemp("influxd1")).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_fixed_node(ferry_path, tmp_path_factory):
    """Factory like make_node, but the node keeps one explicit port across restarts."""
    from harness import FixedPortFerryNode

    nodes = []

    def make(start: bool = True, **kw):
        base = tmp_path_factory.mktemp("ferry-fixed")
        n = FixedPortFerryNode(base / "data", base / "logs", **kw)
        nodes.append(n)
        return n.start() if start else n

    yield make
    for n in nodes:
        n.kill()


@pytest.fixture
def fake_remote():
    """Factory: fake_remote(script=ok) -> started tests/fake_remote.FakeRemote; stopped at teardown."""
    from fake_remote import FakeRemote, ok

    remotes = []

    def make(script=ok):
        r = FakeRemote(script).start()
        remotes.append(r)
        return r

    yield make
    for r in remotes:
        r.stop()
