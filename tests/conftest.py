"""Shared fixtures: an isolated LORE_HOME per test, the `test` profile, and no network but loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from retrieval.offline import apply_privacy_defaults

apply_privacy_defaults()

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
SAMPLE_DATA = REPO / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or a clean skip naming what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: place the shared data set beside the repository to run this test")
    return path


def _is_loopback(address) -> bool:
    if isinstance(address, tuple):
        host = address[0]
    elif isinstance(address, (str, bytes)):
        return True  # unix socket path
    else:
        return False
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def block_network(monkeypatch):
    """Any connection to a non-loopback address fails the test (no phoning home, no hub)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address):
        if not _is_loopback(address):
            raise RuntimeError(f"test tried to reach the network ({address!r}); only loopback is allowed")

    def connect(self, address):
        guard(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield


@pytest.fixture
def lore_home(tmp_path, monkeypatch) -> Path:
    """A fresh LORE_HOME; the models dir stays the shared one so real models are not reinstalled."""
    home = tmp_path / "home"
    monkeypatch.setenv("LORE_HOME", str(home))
    for key in list(os.environ):
        if key.startswith("LORE_") and key not in ("LORE_HOME", "LORE_MODELS__DIR"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def test_settings(lore_home):
    """Settings of the `test` profile: fake generator, hash embedder, embedded Chroma in tmp."""
    from retrieval.settings import load_settings

    return load_settings(overrides={"profile": "test"})
