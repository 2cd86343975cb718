"""Legacy and OpenDocument Office files converted with LibreOffice headless into the Office Open
XML form the parsers read (.doc/.rtf/.odt → .docx, .xls/.ods → .xlsx, .ppt/.odp → .pptx; an
.xlsx/.docx/.pptx the Python readers return empty, e.g. Strict Open XML, re-saved as the usual
transitional form).

Each conversion is sandboxed: the input is copied into a throw-away directory, LibreOffice runs with
a throw-away profile there (`-env:UserInstallation=file://…`, so no user's settings, macros or
recent-files list are touched and parallel workers never share a profile), in its own process group
killed whole at the deadline, with a scrubbed environment and, where the kernel allows unprivileged
namespaces, in a network namespace of its own (no network at all).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ingest.blocks import ParseFailure

TARGET = {
    ".doc": ".docx", ".rtf": ".docx", ".odt": ".docx", ".docx": ".docx", ".docm": ".docx",
    ".xls": ".xlsx", ".ods": ".xlsx", ".xlsx": ".xlsx", ".xlsm": ".xlsx",
    ".ppt": ".pptx", ".odp": ".pptx", ".pptx": ".pptx", ".pptm": ".pptx",
}  # fmt: skip
FILTER = {".docx": "docx:MS Word 2007 XML", ".xlsx": "xlsx:Calc MS Excel 2007 XML", ".pptx": "pptx:Impress MS PowerPoint 2007 XML"}
PACKAGE = {".docx": "libreoffice-writer", ".xlsx": "libreoffice-calc", ".pptx": "libreoffice-impress"}
INSTALL = "apt-get install --no-install-recommends libreoffice-core libreoffice-writer libreoffice-calc libreoffice-impress"


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def missing_reason(ext: str) -> str:
    target = TARGET.get(ext, ".docx")
    return f"unsupported: {ext} needs LibreOffice to be read ({INSTALL.replace('libreoffice-writer libreoffice-calc libreoffice-impress', PACKAGE[target])}) or save it as {target}"


@functools.cache
def _can_unshare() -> bool:
    """Whether `unshare -rn` (a user and network namespace, no root needed) works here."""
    tool = shutil.which("unshare")
    if not tool:
        return False
    try:
        return subprocess.run([tool, "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def conversion_command(program: str, source: Path, outdir: Path, profile: Path, target: str, isolate: bool) -> list[str]:
    command = [
        program, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--invisible", "--norestore", "--nologo",
        "--nodefault", "--nolockcheck", "--convert-to", FILTER[target], "--outdir", str(outdir), str(source),
    ]  # fmt: skip
    return ["unshare", "-rn", *command] if isolate else command


def sandbox_env(home: Path) -> dict[str, str]:
    """Only what LibreOffice needs; no proxies, no display, no user's home."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
    return {**keep, "HOME": str(home), "TMPDIR": str(home), "SAL_USE_VCLPLUGIN": "svp", "PYTHONPATH": ""}


def convert(path: Path, timeout_s: float, workdir: Path | None = None) -> Path:
    """Convert `path` with LibreOffice into its Office Open XML form inside `workdir` (a temporary
    directory the caller removes); returns the converted file. Raises ParseFailure with the reason."""
    ext = path.suffix.lower()
    target = TARGET.get(ext)
    if target is None:
        raise ParseFailure(f"unsupported file type {ext}: LibreOffice conversion covers {', '.join(sorted(TARGET))}")
    program = soffice()
    if program is None:
        raise ParseFailure(missing_reason(ext))
    root = Path(workdir or tempfile.mkdtemp(prefix="lore-soffice-"))
    inbox, outdir, profile = root / "in", root / "out", root / "profile"
    for folder in (inbox, outdir, profile):
        folder.mkdir(parents=True, exist_ok=True)
    source = inbox / f"document{ext}"
    shutil.copyfile(path, source)
    command = conversion_command(program, source, outdir, profile, target, _can_unshare())
    try:
        process = subprocess.Popen(command, cwd=root, env=sandbox_env(root), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    except OSError as exc:
        raise ParseFailure(f"LibreOffice could not start ({exc.strerror}): check the installation ({INSTALL})") from exc
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise ParseFailure(f"timeout: LibreOffice took over ingest.convert_timeout_s={timeout_s:g}s to convert the file") from None
    finally:
        if process.poll() is None:
            _kill_group(process)
    converted = outdir / f"document{target}"
    if not converted.is_file() or converted.stat().st_size == 0:
        lines = [ln.strip() for ln in output.decode("utf-8", "replace").splitlines() if ln.strip() and "javaldx" not in ln]
        said = " ".join(next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "").split())[:160]
        raise ParseFailure(f"corrupt: LibreOffice could not convert the {ext} file ({said or f'exit code {process.returncode}'}); open and save it again")
    return converted


def _kill_group(process: subprocess.Popen) -> None:
    """LibreOffice starts helpers (oosplash → soffice.bin): end the whole group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait(5)
