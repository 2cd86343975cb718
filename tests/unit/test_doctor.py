"""`lore doctor --json`: one JSON document, every check with a verdict and a fix, exit non-zero only
when something the main job needs is broken — and never a crash."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.doctor import Check, run_checks
from retrieval.settings import load_settings

pytestmark = pytest.mark.unit


def doctor(capsys, *args: str) -> tuple[int, dict]:
    code = main(["doctor", "--json", *args])
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1  # the contract: exactly one JSON document
    return code, json.loads(out)


def test_a_healthy_home_passes(lore_home, capsys):
    code, doc = doctor(capsys, "--profile", "test")
    assert code == 0 and doc["ok"] is True
    names = [c["name"] for c in doc["checks"]]
    for name in ("python", "packages", "generator decode", "embedder", "LORE_HOME", "models.dir", "store", "disk"):
        assert name in names
    for check in doc["checks"]:
        assert set(check) >= {"name", "ok", "detail", "fix"} and check["detail"]
        assert check["ok"] or check["fix"]  # a failing check always says what to do


def test_a_missing_model_file_fails_with_its_fix(lore_home, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LORE_MODELS__DIR", str(tmp_path / "empty-models"))
    code, doc = doctor(capsys, "--profile", "test")  # the test profile, but the real default generator:
    assert code == 0  # (fake generator: no model file needed)
    monkeypatch.setenv("LORE_MODELS__GENERATOR__KIND", "llama_cpp")
    monkeypatch.setenv("LORE_MODELS__EMBEDDER__KIND", "hash")
    code, doc = doctor(capsys)
    model = next(c for c in doc["checks"] if c["name"] == "generator model")
    decode = next(c for c in doc["checks"] if c["name"] == "generator decode")
    assert code == 1 and doc["ok"] is False
    assert not model["ok"] and "lore models install" in model["fix"]
    assert not decode["ok"] and decode["detail"].startswith("not run")  # not attempted on a missing file


def test_an_unwritable_home_fails_with_its_fix(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LORE_HOME", str(blocker / "home"))
    code, doc = doctor(capsys, "--profile", "test")
    home = next(c for c in doc["checks"] if c["name"] == "LORE_HOME")
    assert code == 1 and not home["ok"] and "LORE_HOME" in home["fix"]


def test_a_check_that_raises_is_a_failed_verdict_not_a_crash(lore_home):
    def broken(settings):
        raise RuntimeError("library exploded")

    settings = load_settings(overrides={"profile": "test"})
    from app import doctor as module

    module.NAMES[broken] = "broken part"
    try:
        results = run_checks(settings, checks=(broken,))
    finally:
        del module.NAMES[broken]
    assert results == [Check("broken part", False, "RuntimeError: library exploded", "run `make setup`, then `lore doctor` again")]
