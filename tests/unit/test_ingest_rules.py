"""Globs, ACL maps and sidecars, sources.yaml, bad-input checks and text decoding (no parsers)."""

from __future__ import annotations

import zipfile

import pytest

from ingest.acl import AclMap, resolve_groups
from ingest.globs import glob_match
from ingest.blocks import Limits, ParseFailure
from ingest.loaders import check_file, read_text
from ingest.source_config import load_source_config
from ingest.sources import scan, sources_from_paths
from retrieval.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("finance/**", "finance/q1/report.pdf", True),
        ("finance/**", "finance/report.pdf", True),
        ("finance/**", "hr/finance/report.pdf", False),
        ("**", "a/b/c.md", True),
        ("*.pdf", "deep/down/x.pdf", True),  # no slash: file name at any depth
        ("/*.pdf", "deep/x.pdf", False),  # leading slash: anchored at the root
        ("/*.pdf", "x.pdf", True),
        ("docs/*.md", "docs/sub/x.md", False),  # * stays inside one folder
        ("docs/**/*.md", "docs/x.md", True),
        ("report-?.txt", "report-1.txt", True),
        ("[ab].txt", "c.txt", False),
    ],
)
def test_glob_semantics(pattern, path, expected):
    assert glob_match(pattern, path) is expected


def test_acl_first_match_wins_and_sidecar_overrides(tmp_path):
    acl = AclMap.from_mapping({"finance/**": ["finance"], "hr/**": "hr, managers", "**": ["all-staff"]})
    assert acl.groups_for("finance/q1.pdf") == ("finance",)
    assert acl.groups_for("hr/pay.xlsx") == ("hr", "managers")
    assert acl.groups_for("misc/notes.md") == ("all-staff",)
    doc = tmp_path / "secret.md"
    doc.write_text("x")
    (tmp_path / "secret.md.acl").write_text("- board\n- legal\n")
    assert resolve_groups(doc, "secret.md", acl, ["all-staff"]) == ("board", "legal")
    assert resolve_groups(tmp_path / "other.md", "other.md", AclMap(), ["all-staff"]) == ("all-staff",)


def test_invalid_group_names_are_rejected():
    with pytest.raises(ConfigError, match="invalid group name"):
        AclMap.from_mapping({"**": ["has space,comma"]})


def test_scan_applies_acl_skips_hidden_and_reports_symlink_loops(tmp_path):
    (tmp_path / "finance").mkdir()
    (tmp_path / "finance" / "q1.txt").write_text("q1")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".hidden.txt").write_text("h")
    (tmp_path / "loop").symlink_to(tmp_path)  # a folder link back to the root
    (tmp_path / "self").symlink_to(tmp_path / "self")  # a link to itself
    found = scan(sources_from_paths([tmp_path], AclMap.from_mapping({"finance/**": ["finance"]})), ["all-staff"])
    by_source = {f.source: f.groups for f in found.files}
    assert by_source == {"a.txt": ("all-staff",), "finance/q1.txt": ("finance",)}
    reasons = {p.rsplit("/", 1)[-1]: e for p, e in ((f.path, f.error) for f in found.failed)}
    assert reasons["loop"].startswith("symlink loop") and reasons["self"].startswith("symlink loop")


def test_missing_path_is_not_a_scope(tmp_path):
    found = scan(sources_from_paths([tmp_path / "gone"], AclMap()), ["all-staff"])
    assert found.files == [] and found.scopes == []
    assert found.missing == {str(tmp_path / "gone")}  # the pipeline reports it, deletes nothing under it


def test_source_config(tmp_path):
    root = tmp_path / "share"
    (root / "drafts").mkdir(parents=True)
    (root / "drafts" / "d.md").write_text("d")
    (root / "policy.md").write_text("p")
    (root / "notes.txt").write_text("n")
    config = tmp_path / "sources.yaml"
    config.write_text(
        "default_groups: [staff]\nsources:\n  - name: wiki\n    root: share\n    include: ['*.md']\n"
        "    exclude: ['drafts/**']\n    acl: {'policy.md': [legal]}\n"
    )
    sources, default = load_source_config(config)
    assert default == ("staff",) and sources[0].root == root
    found = scan([(s, None) for s in sources], default)
    assert [(f.source, f.groups) for f in found.files] == [("wiki/policy.md", ("legal",))]


def test_source_config_errors_name_the_problem(tmp_path):
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n  - root: /x\n")
    with pytest.raises(ConfigError, match="name"):
        load_source_config(config)


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("photo.heic", b"\0\0\0\x18ftypheic", "unsupported file type .heic"),
        ("fake.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "corrupt: an OLE2"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "corrupt: not a valid XLSX"),
        ("fake.pdf", b"hello, I am not a PDF", "corrupt: not a PDF"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "unsupported: legacy .doc needs LibreOffice"),
    ],
)
def test_bad_input_is_refused_with_a_reason(tmp_path, monkeypatch, name, content, reason):
    monkeypatch.setenv("PATH", str(tmp_path))  # no LibreOffice here, whatever the machine has
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ParseFailure, match=reason.replace(".", r"\.").replace("(", r"\(")):
        check_file(path, Limits())


def test_zip_bomb_guard(tmp_path):
    bomb = _zip(tmp_path / "bomb.docx", {"word/document.xml": b"\0" * (3 * 2**20)})
    with pytest.raises(ParseFailure, match="zip bomb guard"):
        check_file(bomb, Limits(max_unzipped_mb=1))
    assert check_file(bomb, Limits(max_unzipped_mb=10)) == ".docx"


def test_size_limit(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (2 * 2**20))
    with pytest.raises(ParseFailure, match="ingest.max_file_mb"):
        check_file(big, Limits(max_file_mb=1))


def test_non_utf8_text_is_decoded(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Café crème: 5 € per person, naïve résumé.".encode("cp1252"))
    assert "Café crème" in read_text(path)
    utf8 = tmp_path / "bom.txt"
    utf8.write_bytes("\ufeffhello wörld".encode("utf-8"))
    assert read_text(utf8) == "hello wörld"
