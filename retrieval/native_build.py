"""The llama.cpp build Lore runs: instruction sets chosen from the CPU, AMX never on.

llama-cpp-python compiles llama.cpp with `-march=native` by default. On Intel CPUs with AMX
(Sapphire Rapids and later) that turns on ggml's AMX matrix path, which segfaults
(`ldtilecfg` in `ggml_backend_amx_mul_mat`: tile permission is requested on one thread only).
A native build is also tied to the CPU it was compiled on: a wheel from pip's cache, a venv on a
shared disk or an image built elsewhere can die with SIGILL on another CPU. So Lore builds with
`GGML_NATIVE=OFF` and names every instruction-set option itself, from the CPU's own flags:

- `cmake_args(flags)`: the CMake arguments for a set of CPU flags (AMX always off);
- a wheel cached per argument set (`~/.cache/lore/wheels/<key>/`), so a machine compiles once
  per CPU kind and a second CPU kind never reuses the first one's wheel (pip's own wheel cache
  does not know CMAKE_ARGS, so it is bypassed for this package);
- a record of what was built (`<venv>/lore-llama-build.json`), read by `lore doctor`;
- named variants for images that run on CPUs not known at build time (the Dockerfile builds
  several and the generator picks the best one the CPU supports, through LLAMA_CPP_LIB_PATH).

Standard library only: scripts/install.sh runs it (`python -m retrieval.native_build install`)
before any other dependency is installed.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

LLAMA_CPP_PYTHON = "0.3.36"
RECORD_NAME = "lore-llama-build.json"
VARIANTS_DIR_NAME = "lore-llama-variants"
LIB_PATH_ENV = "LLAMA_CPP_LIB_PATH"


@dataclass(frozen=True)
class IsaOption:
    """A ggml instruction-set option, the CPU flags (as /proc/cpuinfo names them) it needs, and
    the option it extends (an extension is only built on top of its base)."""

    option: str
    cpu_flags: tuple[str, ...]
    base: str | None = None


ISA_OPTIONS: tuple[IsaOption, ...] = (
    IsaOption("GGML_SSE42", ("sse4_2",)),
    IsaOption("GGML_AVX", ("avx",), "GGML_SSE42"),
    IsaOption("GGML_F16C", ("f16c",), "GGML_AVX"),
    IsaOption("GGML_FMA", ("fma",), "GGML_AVX"),
    IsaOption("GGML_BMI2", ("bmi2",)),
    IsaOption("GGML_AVX2", ("avx2",), "GGML_AVX"),
    IsaOption("GGML_AVX_VNNI", ("avx_vnni",), "GGML_AVX2"),
    # ggml's GGML_AVX512 compiles with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw.
    IsaOption("GGML_AVX512", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"), "GGML_AVX2"),
    IsaOption("GGML_AVX512_VBMI", ("avx512vbmi",), "GGML_AVX512"),
    IsaOption("GGML_AVX512_VNNI", ("avx512_vnni",), "GGML_AVX512"),
    IsaOption("GGML_AVX512_BF16", ("avx512_bf16",), "GGML_AVX512"),
)
# Never on, whatever the CPU has: ggml's AMX path crashes (see the module docstring).
AMX_OPTIONS = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
# Not instruction sets, but the same in every build: llava/mtmd (multimodal) is not used by Lore
# and is a fifth of the compile time.
FIXED_ARGS = ("-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF")

# Named flag sets for images built on one machine and run on others (Dockerfile). The generator
# loads the best variant whose flags the CPU has. Intel: Haswell+ / Skylake-SP / Ice Lake /
# Sapphire Rapids (AMX off); AMD: Zen 1-3 take avx2, Zen 4+ take avx512-spr.
_AVX2 = ("sse4_2", "avx", "f16c", "fma", "bmi2", "avx2")
_AVX512 = _AVX2 + ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")
VARIANTS: dict[str, tuple[str, ...]] = {
    "avx2": _AVX2,
    "avx512": _AVX512,
    "avx512-icl": _AVX512 + ("avx512vbmi", "avx512_vnni"),
    "avx512-spr": _AVX512 + ("avx512vbmi", "avx512_vnni", "avx512_bf16"),
}

# What ggml reports it was compiled with (ggml_cpu_has_*), by the option that turns it on.
COMPILED_PROBES = {
    "GGML_AVX": "ggml_cpu_has_avx",
    "GGML_AVX2": "ggml_cpu_has_avx2",
    "GGML_AVX_VNNI": "ggml_cpu_has_avx_vnni",
    "GGML_F16C": "ggml_cpu_has_f16c",
    "GGML_FMA": "ggml_cpu_has_fma",
    "GGML_BMI2": "ggml_cpu_has_bmi2",
    "GGML_AVX512": "ggml_cpu_has_avx512",
    "GGML_AVX512_VBMI": "ggml_cpu_has_avx512_vbmi",
    "GGML_AVX512_VNNI": "ggml_cpu_has_avx512_vnni",
    "GGML_AVX512_BF16": "ggml_cpu_has_avx512_bf16",
    "GGML_AMX_INT8": "ggml_cpu_has_amx_int8",
}


class BuildError(RuntimeError):
    """The llama.cpp build or its installation failed; the message names the fix."""


# ---- the CPU and the arguments ---------------------------------------------------------------------


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (the first processor's `flags` line); empty
    where there is no such file (macOS, Windows): the build then keeps llama.cpp's defaults."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def cpu_model(cpuinfo: str | None = None) -> str:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return platform.processor() or platform.machine()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.machine()


def isa_options(flags: Iterable[str]) -> dict[str, bool]:
    """Every instruction-set option on or off for a CPU with `flags`; AMX always off."""
    have = frozenset(flags)
    chosen: dict[str, bool] = {}
    for isa in ISA_OPTIONS:
        base_ok = isa.base is None or chosen.get(isa.base, False)
        chosen[isa.option] = base_ok and all(f in have for f in isa.cpu_flags)
    for option in AMX_OPTIONS:
        chosen[option] = False
    return chosen


def cmake_args(flags: Iterable[str], extra: str = "") -> list[str]:
    """The CMake arguments for a CPU with `flags`, then the user's own `extra` (CMAKE_ARGS).
    Not an x86-64 CPU (no flags read): only the fixed arguments, and llama.cpp picks the rest."""
    flags = frozenset(flags)
    args = list(FIXED_ARGS)
    if "sse2" in flags or "avx" in flags:  # an x86-64 flags line
        args += [f"-D{option}={'ON' if on else 'OFF'}" for option, on in isa_options(flags).items()]
    elif flags or platform.machine().lower() not in ("x86_64", "amd64"):
        args = [a for a in args if a != "-DGGML_NATIVE=OFF"]  # other architectures: llama.cpp's own choice
    return args + extra.split()


def enabled(args: Iterable[str]) -> list[str]:
    """The instruction-set options an argument list turns on, in build order."""
    on = {a[2:].split("=")[0] for a in args if a.startswith("-DGGML_") and a.upper().endswith("=ON")}
    return [isa.option for isa in ISA_OPTIONS if isa.option in on] + [o for o in AMX_OPTIONS if o in on]


def compiler_version() -> str:
    compiler = os.environ.get("CXX") or "c++"
    try:
        out = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0].strip() if out else "unknown"


def build_key(args: Iterable[str]) -> str:
    """What makes two builds interchangeable: the package version, the arguments, the compiler
    and the Python ABI."""
    parts = [LLAMA_CPP_PYTHON, " ".join(args), compiler_version(), sys.implementation.cache_tag or "", platform.machine()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ---- the wheel ------------------------------------------------------------------------------------


def cache_dir() -> Path:
    base = os.environ.get("LORE_WHEEL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "lore", "wheels"
    )
    return Path(base)


def _pip(*args: str, env: Mapping[str, str] | None = None, quiet: bool = True) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *(["-q"] if quiet else []), *args]
    done = subprocess.run(cmd, env=dict(env) if env is not None else None)
    if done.returncode != 0:
        raise BuildError(f"`{' '.join(cmd[2:])}` failed (exit {done.returncode}): see the output above")


def sdist() -> Path:
    """llama-cpp-python's source archive, downloaded once into the wheel cache."""
    folder = cache_dir() / "sdist"
    found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    _pip("download", "--no-deps", "--no-binary", ":all:", "-d", str(folder), f"llama-cpp-python=={LLAMA_CPP_PYTHON}")
    found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"))
    if not found:
        raise BuildError(f"pip did not download llama-cpp-python {LLAMA_CPP_PYTHON}'s sources into {folder}: check access to PyPI")
    return found[0]


def ensure_wheel(args: list[str], *, force: bool = False, log=print) -> tuple[Path, dict]:
    """The wheel built with `args`, from the cache or compiled now (several minutes, once per
    CPU kind and argument set). Returns the wheel and its build record."""
    key = build_key(args)
    folder = cache_dir() / f"llama-cpp-python-{LLAMA_CPP_PYTHON}-{key}"
    info_path = folder / "build.json"
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    if wheels and info_path.is_file() and not force:
        return wheels[0], json.loads(info_path.read_text(encoding="utf-8"))
    source = sdist()
    staging = Path(tempfile.mkdtemp(prefix="build-", dir=cache_dir()))
    log(f"compiling llama.cpp for this CPU ({' '.join(enabled(args)) or 'default instruction sets'}); "
        "several minutes, once per CPU kind…")
    started = time.monotonic()
    env = dict(os.environ, CMAKE_ARGS=" ".join(args))
    try:
        # --no-cache-dir: pip's wheel cache is keyed by the source, not by CMAKE_ARGS.
        _pip("wheel", "--no-deps", "--no-cache-dir", "-w", str(staging), str(source), env=env, quiet=False)
        built = sorted(staging.glob("llama_cpp_python-*.whl"))
        if not built:
            raise BuildError(f"the llama.cpp build wrote no wheel into {staging}: see the compiler output above")
        info = {
            "package": f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
            "key": key,
            "cmake_args": args,
            "enabled": enabled(args),
            "built_on": cpu_model(),
            "compiler": compiler_version(),
            "build_seconds": round(time.monotonic() - started, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (staging / "build.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)  # atomic: a killed build leaves no half-filled cache entry
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(folder.glob("llama_cpp_python-*.whl"))[0], info


# ---- installing into this environment -------------------------------------------------------------


def record_path(prefix: str | os.PathLike | None = None) -> Path:
    return Path(prefix or sys.prefix) / RECORD_NAME


def installed_record(prefix: str | os.PathLike | None = None) -> dict | None:
    try:
        return json.loads(record_path(prefix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def package_lib_dir() -> Path | None:
    """llama_cpp's own lib/ folder in this environment (found without importing llama_cpp)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return lib if lib.is_dir() else None


def install(*, variant: str | None = None, force: bool = False, log=print) -> dict:
    """Build (or take from the cache) the wheel for this CPU, or for a named variant, and install
    it into this environment unless the same build is already there."""
    flags = frozenset(VARIANTS[variant]) if variant else cpu_flags()
    args = cmake_args(flags, os.environ.get("CMAKE_ARGS", ""))
    key = build_key(args)
    current = installed_record()
    if not force and current and current.get("key") == key and package_lib_dir() is not None:
        log(f"llama.cpp {LLAMA_CPP_PYTHON} already built for this CPU ({' '.join(current.get('enabled', []))})")
        return current
    wheel, info = ensure_wheel(args, force=force, log=log)
    _pip("install", "--no-deps", "--force-reinstall", str(wheel))
    record = dict(info, variant=variant or "this-cpu", wheel=str(wheel), installed_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    record_path().write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    log(f"llama.cpp {LLAMA_CPP_PYTHON} installed: {' '.join(record['enabled']) or 'default instruction sets'}, AMX off")
    return record


def add_variant(name: str, into: Path, *, force: bool = False, log=print) -> Path:
    """Build a named variant and unpack its libraries into `into/name` (for images)."""
    args = cmake_args(VARIANTS[name], os.environ.get("CMAKE_ARGS", ""))
    wheel, info = ensure_wheel(args, force=force, log=log)
    target = into / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("llama_cpp/lib/") and not member.endswith("/"):
                (target / Path(member).name).write_bytes(archive.read(member))
    (target / "build.json").write_text(json.dumps(dict(info, variant=name), indent=2) + "\n", encoding="utf-8")
    log(f"variant {name}: {' '.join(info['enabled'])} -> {target}")
    return target


# ---- at run time ------------------------------------------------------------------------------------


def variants_dir(prefix: str | os.PathLike | None = None) -> Path:
    return Path(prefix or sys.prefix) / VARIANTS_DIR_NAME


def select_variant(flags: Iterable[str], folder: Path) -> Path | None:
    """The variant in `folder` with the most instruction sets that this CPU has all of."""
    have = frozenset(flags)
    best: tuple[int, Path] | None = None
    for build in sorted(folder.glob("*/build.json")):
        name = build.parent.name
        needs = VARIANTS.get(name)
        if needs is None or not set(needs) <= have:
            continue
        if best is None or len(needs) > best[0]:
            best = (len(needs), build.parent)
    return best[1] if best else None


def prepare_runtime(flags: Iterable[str] | None = None, prefix: str | os.PathLike | None = None) -> Path | None:
    """Before llama_cpp is imported: point it at the best variant this CPU runs, where an image
    carries variants (and the user did not choose a library folder). Returns the folder chosen."""
    if os.environ.get(LIB_PATH_ENV):
        return Path(os.environ[LIB_PATH_ENV])
    folder = variants_dir(prefix)
    if not folder.is_dir():
        return None
    chosen = select_variant(cpu_flags() if flags is None else flags, folder)
    if chosen is not None:
        os.environ[LIB_PATH_ENV] = str(chosen)
    return chosen


def active_lib_dir() -> Path | None:
    """The folder llama_cpp loads its libraries from in this process."""
    return Path(os.environ[LIB_PATH_ENV]) if os.environ.get(LIB_PATH_ENV) else package_lib_dir()


def compiled_features(lib_dir: Path) -> dict[str, bool]:
    """What ggml in `lib_dir` was compiled with, asked from the library itself. Loading it runs
    no matrix code, so this is safe even for a build that would crash."""
    candidates = sorted(lib_dir.glob("libggml-cpu*.so*")) or sorted(lib_dir.glob("libggml-cpu*"))
    if not candidates:
        raise BuildError(f"no libggml-cpu in {lib_dir}: reinstall with `lore doctor --fix`")
    mode = getattr(os, "RTLD_GLOBAL", 0)
    for base in sorted(lib_dir.glob("libggml-base*.so*")):
        ctypes.CDLL(str(base), mode=mode)
    lib = ctypes.CDLL(str(candidates[0]), mode=mode)
    features = {}
    for option, symbol in COMPILED_PROBES.items():
        function = getattr(lib, symbol, None)
        if function is not None:
            function.restype = ctypes.c_int
            features[option] = bool(function())
    return features


def missing_on_this_cpu(features: Mapping[str, bool], flags: Iterable[str]) -> list[str]:
    """Options compiled into the build that this CPU cannot run (they end in SIGILL)."""
    needs = {isa.option: isa.cpu_flags for isa in ISA_OPTIONS}
    needs["GGML_AMX_INT8"] = ("amx_int8",)
    have = frozenset(flags)
    return [option for option, on in features.items() if on and not set(needs.get(option, ())) <= have]


# ---- command line -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval.native_build", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("flags", help="print the CPU's flags and the CMake arguments chosen from them (JSON)")
    key = sub.add_parser("key", help="print the build key for this CPU (what a cached wheel is filed under)")
    key.add_argument("--variant", choices=sorted(VARIANTS), help="the key of a named variant instead")
    inst = sub.add_parser("install", help="build (or reuse) the wheel for this CPU and install it here")
    inst.add_argument("--variant", choices=sorted(VARIANTS), help="build a named portable variant instead of this CPU's")
    inst.add_argument("--force", action="store_true", help="compile again even if a cached wheel exists")
    var = sub.add_parser("variants", help="build named variants into <venv>/lore-llama-variants (for images)")
    var.add_argument("names", nargs="+", choices=sorted(VARIANTS))
    var.add_argument("--into", metavar="DIR", help="another folder (e.g. to benchmark a variant without the generator picking it up)")
    args = parser.parse_args(argv)
    say = lambda message: print(f"lore setup: {message}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.action == "flags":
            flags = cpu_flags()
            chosen = cmake_args(flags, os.environ.get("CMAKE_ARGS", ""))
            print(json.dumps({"cpu": cpu_model(), "options": isa_options(flags), "cmake_args": chosen, "key": build_key(chosen)}, indent=2))
        elif args.action == "key":
            flags = frozenset(VARIANTS[args.variant]) if args.variant else cpu_flags()
            print(build_key(cmake_args(flags, os.environ.get("CMAKE_ARGS", ""))))
        elif args.action == "install":
            install(variant=args.variant, force=args.force, log=say)
        else:
            for name in args.names:
                add_variant(name, Path(args.into) if args.into else variants_dir(), log=say)
    except BuildError as exc:
        print(f"lore setup: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
