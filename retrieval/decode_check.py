"""One real decode of the configured generator in a child process.

A native library that crashes (a llama.cpp build with an instruction set this CPU lacks, or its
AMX path) kills the whole process with SIGSEGV or SIGILL: Python cannot catch that. So before a
process loads llama.cpp for the first time, the same model is loaded and asked for a few tokens in
a child process. A child killed by a signal becomes one line naming the fix; a child that
succeeds is remembered (per library build, model file, CPU and load settings) so the check runs
once per machine, not once per command. `lore doctor` runs the same child without the memory.

The child: `python -m retrieval.decode_child` with the generator settings as JSON on stdin; it
prints one JSON line with what it decoded and how fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from retrieval.errors import ModelUnavailableError
from retrieval.settings import GeneratorSettings

CHECK_PROMPT = "Count from 1 to 10, separated by spaces."
CHECK_TOKENS = 12
FIX = "run `lore doctor --fix` (it rebuilds llama.cpp for this CPU), or `make setup` in a fresh checkout"


class NativeCrashError(ModelUnavailableError):
    """The generator's native library crashed in the child check."""


@dataclass(frozen=True)
class DecodeResult:
    ok: bool
    detail: str
    seconds: float = 0.0
    load_s: float | None = None
    decode_tokens_per_s: float | None = None
    crashed: bool = False


def generator_payload(config: GeneratorSettings, models_dir: Path) -> str:
    """The child's input: the generator settings with secrets in clear (sent on stdin, never argv)."""
    data: dict[str, Any] = {}
    for name in GeneratorSettings.model_fields:
        value = getattr(config, name)
        data[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
    data["check_in_child"] = False  # the child is the check
    return json.dumps({"generator": data, "models_dir": str(models_dir)}, default=str)


def interpret(returncode: int, stdout: str, stderr: str, seconds: float) -> DecodeResult:
    """A finished child: its JSON line when it succeeded; the signal or its last error line otherwise."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return DecodeResult(False, f"the model's native library crashed ({name}) in a test decode", seconds, crashed=True)
    lines = [line for line in stdout.splitlines() if line.strip().startswith("{")]
    if returncode == 0 and lines:
        doc = json.loads(lines[-1])
        return DecodeResult(True, doc.get("detail", "decoded"), seconds, doc.get("load_s"), doc.get("decode_tokens_per_s"))
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), f"exit status {returncode}")
    return DecodeResult(False, last.removeprefix("lore: error: "), seconds)


def run_child(command: list[str], payload: str, timeout_s: float) -> DecodeResult:
    started = time.monotonic()
    try:
        done = subprocess.run(command, input=payload, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return DecodeResult(False, f"a test decode took longer than {timeout_s:.0f} s", time.monotonic() - started)
    return interpret(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def check_decode(config: GeneratorSettings, models_dir: Path, timeout_s: float = 600.0) -> DecodeResult:
    """Load the generator and decode a few tokens in a child process (nothing remembered)."""
    return run_child([sys.executable, "-m", "retrieval.decode_child"], generator_payload(config, models_dir), timeout_s)


# ---- the guard before llama.cpp is loaded in this process ----------------------------------------------


def _identity(path: Path) -> list[Any]:
    try:
        stat = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path), stat.st_size, int(stat.st_mtime)]


def guard_key(config: GeneratorSettings, model_path: Path, lib_dir: Path | None) -> str:
    """What a successful check vouches for: the library files, the model file, the CPU and the
    settings that change how llama.cpp runs (not the answer length or temperature)."""
    from retrieval.native_build import cpu_flags

    libs = sorted(lib_dir.glob("*.so*")) if lib_dir is not None and lib_dir.is_dir() else []
    runs = {k: v for k, v in config.model_dump(mode="json").items()
            if k not in ("max_new_tokens", "temperature", "seed", "timeout_s", "api_key", "check_in_child")}
    parts = [[_identity(p) for p in libs], _identity(model_path), sorted(cpu_flags()), runs]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def ensure_native_safe(config: GeneratorSettings, models_dir: Path, model_path: Path, lib_dir: Path | None) -> None:
    """Raise NativeCrashError (one line, with the fix) when the child check crashes; remember a
    success in models.dir so later processes skip it."""
    record = models_dir / ".checks" / f"decode-{guard_key(config, model_path, lib_dir)}.json"
    if record.is_file():
        return
    result = check_decode(config, models_dir)
    if result.crashed:
        raise NativeCrashError(f"{result.detail} (llama.cpp from {lib_dir or 'llama_cpp'}): {FIX}")
    if not result.ok:
        raise ModelUnavailableError(f"the generator failed a test decode ({result.detail}): run `lore doctor` for details")
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(asdict(result), checked_at=time.time())) + "\n", encoding="utf-8")
        tmp.replace(record)
    except OSError:
        pass  # a read-only models.dir: the check simply runs again next time
