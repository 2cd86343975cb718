"""The guard before llama.cpp is first loaded: a child that crashes becomes one line naming the fix,
never a crash of the command; a child that succeeds is remembered."""

from __future__ import annotations

import sys

import pytest

from app.cli import main
from retrieval import decode_check
from retrieval.decode_check import NativeCrashError, ensure_native_safe, interpret, run_child
from retrieval.settings import GeneratorSettings

pytestmark = pytest.mark.unit

SEGFAULT = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
ILLEGAL = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
HEALTHY = [sys.executable, "-c", 'print(\'{"ok": true, "detail": "decoded 3 tokens", "load_s": 0.1, "decode_tokens_per_s": 20.0}\')']


@pytest.mark.parametrize(("command", "signal_name"), [(SEGFAULT, "SIGSEGV"), (ILLEGAL, "SIGILL")])
def test_a_child_killed_by_a_signal_is_a_crash_with_its_name(command, signal_name):
    result = run_child(command, "", timeout_s=60)
    assert result.crashed and not result.ok and signal_name in result.detail


def test_a_healthy_child_reports_what_it_decoded():
    result = run_child(HEALTHY, "", timeout_s=60)
    assert result.ok and not result.crashed and result.decode_tokens_per_s == 20.0


def test_a_failing_child_reports_its_last_error_line():
    result = interpret(1, "", "Traceback …\nlore: error: model file not found: run `lore models install`\n", 0.5)
    assert not result.ok and not result.crashed and result.detail == "model file not found: run `lore models install`"


@pytest.fixture
def children(monkeypatch):
    """Runs `command` as the child check instead of `python -m retrieval.decode_child`, counting runs."""
    runs: list[list[str]] = []
    state = {"command": SEGFAULT}

    def check(config, models_dir, timeout_s=600.0):
        runs.append(state["command"])
        return run_child(state["command"], "", timeout_s)

    monkeypatch.setattr(decode_check, "check_decode", check)
    return state, runs


def test_a_crashing_build_raises_one_line_naming_the_fix(tmp_path, children):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(NativeCrashError) as raised:
        ensure_native_safe(GeneratorSettings(), tmp_path, model, None)
    message = str(raised.value)
    assert "\n" not in message and "SIGSEGV" in message and "lore doctor --fix" in message
    assert not list((tmp_path / ".checks").glob("*.json"))  # a crash is never remembered as fine


def test_a_passing_check_is_remembered_until_the_build_or_model_changes(tmp_path, children):
    state, runs = children
    state["command"] = HEALTHY
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    config = GeneratorSettings()
    ensure_native_safe(config, tmp_path, model, None)
    ensure_native_safe(config, tmp_path, model, None)
    assert len(runs) == 1
    ensure_native_safe(config.model_copy(update={"gpu_layers": 5}), tmp_path, model, None)  # loads differently
    model.write_bytes(b"GGUF v2")  # another model file
    ensure_native_safe(config, tmp_path, model, None)
    assert len(runs) == 3


def test_lore_ask_turns_a_crashing_native_library_into_one_line(tmp_path, monkeypatch, capsys, children):
    models = tmp_path / "models"
    models.mkdir()
    (models / "crashy.gguf").write_bytes(b"GGUF")
    monkeypatch.setenv("LORE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LORE_MODELS__DIR", str(models))
    monkeypatch.setenv("LORE_MODELS__GENERATOR__MODEL", "crashy.gguf")
    monkeypatch.setenv("LORE_MODELS__EMBEDDER__KIND", "hash")
    from retrieval.assistant import build_assistant
    from retrieval.settings import load_settings
    from retrieval.testing import seed

    seed(build_assistant(load_settings()))
    code = main(["ask", "How many days of paid vacation do employees receive?", "--json"])
    captured = capsys.readouterr()
    assert code == 3
    error = captured.err.strip().splitlines()[-1]
    assert error.startswith("lore: error:") and "SIGSEGV" in error and "lore doctor --fix" in error
