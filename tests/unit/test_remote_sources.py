"""The rules of the remote sources, with fakes: URL normalisation, same site, robots.txt (RFC 9309),
links and meta robots, sitemaps, crawl depth and page limits (httpx's in-memory transport standing in
for a site), IMAP folder names, size caps, sources.yaml validation, credentials and their masking,
and the manifest's change tokens."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pytest

from ingest.remote import RemoteScope, safe_file_name, write_capped, DownloadError
from ingest.remote.credentials import MASK, SecretRef, mask_url
from ingest.remote.imap import decode_folder_name, encode_folder_name, parse_list_line, _folder_match
from ingest.remote.urls import Robots, normalise_url, page_links, parse_sitemap, relative_path, same_site, site_of, worth_fetching
from retrieval.errors import ConfigError, InputError

pytestmark = pytest.mark.unit


# -- URLs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("HTTP://Intranet.Example.COM:80/a/./b/../c.html#top", None, "http://intranet.example.com/a/c.html"),
        ("https://host:443/", None, "https://host/"),
        ("https://host:8443/x", None, "https://host:8443/x"),
        ("https://host", None, "https://host/"),
        ("https://user:secret@host/page", None, "https://host/page"),  # credentials never part of an identity
        ("/docs/%7euser/%2f?q=%3a", "https://host/start/", "https://host/docs/~user/%2F?q=%3A"),
        ("../up.html", "https://host/a/b/page.html", "https://host/a/up.html"),
        ("page two.html", "https://host/dir/", "https://host/dir/page%20two.html"),
        ("/a/b/", "https://host/", "https://host/a/b/"),
        ("/../../etc", "https://host/", "https://host/etc"),
        ("mailto:someone@example.com", "https://host/", None),
        ("javascript:alert(1)", "https://host/", None),
        ("ftp://host/file", None, None),
        ("https://", None, None),
        ("http://[::1]:8080/x", None, "http://[::1]:8080/x"),
        ("http://host:99999/", None, None),
    ],
)
def test_normalise_url(url, base, expected):
    assert normalise_url(url, base) == expected


def test_same_site_and_relative_paths():
    sites = {site_of("http://intranet:8080/"), site_of("https://wiki.example.com/")}
    assert same_site("http://intranet:8080/hr/x.html", sites)
    assert same_site("https://wiki.example.com/a", sites) and same_site("http://wiki.example.com/a", sites)  # scheme does not matter
    assert not same_site("http://intranet/hr/x.html", sites)  # another port is another server
    assert not same_site("https://evil.example.com/", sites) and not same_site("https://wiki.example.com.evil.org/", sites)
    assert relative_path("https://h/hr/a.html?x=1") == "hr/a.html?x=1" and relative_path("https://h/") == ""


@pytest.mark.parametrize(
    ("url", "fetch"),
    [("https://h/a", True), ("https://h/a/", True), ("https://h/a.html", True), ("https://h/a.php?id=3", True), ("https://h/r.pdf", True),
     ("https://h/r.DOCX", True), ("https://h/s.css", False), ("https://h/app.js", False), ("https://h/a.zip", False), ("https://h/v.mp4", False)],
)  # fmt: skip
def test_which_links_are_worth_fetching(url, fetch):
    assert worth_fetching(url, {".pdf", ".docx", ".html", ".md"}) is fetch


# -- robots.txt ------------------------------------------------------------------------------------
ROBOTS = """
# comment
User-agent: *
Disallow: /private/
Allow: /private/public.html
Disallow: /*.pdf$
Disallow: /search
Crawl-delay: 2

User-agent: OtherBot
Disallow: /

Sitemap: https://h/sitemap.xml
"""


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/", True), ("/private/", False), ("/private/x.html", False), ("/private/public.html", True),  # longer allow wins
     ("/report.pdf", False), ("/report.pdf?download=1", True), ("/a/b/report.pdf", False),  # `*` and `$`
     ("/search", False), ("/search?q=x", False), ("/searching", False), ("/robots.txt", True), ("/%70rivate/x", False)],
)  # fmt: skip
def test_robots_rules(path, allowed):
    robots = Robots.parse(ROBOTS)
    assert robots.allowed(f"https://h{path}") is allowed
    assert robots.crawl_delay == 2 and robots.sitemaps == ["https://h/sitemap.xml"]


def test_robots_groups_and_ties():
    ours = Robots.parse("User-agent: *\nDisallow: /\n\nUser-agent: lorebot\nUser-agent: other\nDisallow: /tmp\n")
    assert ours.allowed("https://h/page") and not ours.allowed("https://h/tmp/x")  # our own group, not '*'
    tie = Robots.parse("User-agent: *\nDisallow: /page\nAllow: /page\n")
    assert tie.allowed("https://h/page")  # equal length: allow
    assert Robots.parse("User-agent: *\nDisallow:\n").allowed("https://h/anything")  # empty disallow
    assert not Robots.forbid_everything().allowed("https://h/") and Robots.allow_everything().allowed("https://h/x")


# -- links and sitemaps ----------------------------------------------------------------------------
def test_page_links():
    html = b"""<html><head><base href="/docs/"></head><body>
      <a href="a.html#part">A</a> <a href="a.html">A again</a> <a href="https://other/x">X</a>
      <a href="secret.html" rel="nofollow">no</a> <a href="mailto:x@y">mail</a> <area href="/map.html"></body></html>"""
    found = page_links(html, "https://h/start.html")
    assert found.links == ("https://h/docs/a.html", "https://other/x", "https://h/map.html")
    assert not found.noindex
    meta = page_links(b'<html><head><meta name="robots" content="noindex, nofollow"></head><a href="/a">a</a></html>', "https://h/")
    assert meta.noindex and meta.nofollow and meta.links == ()
    assert page_links(b"", "https://h/").links == ()


def test_sitemaps(tmp_path):
    urlset = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc> https://h/a </loc></url><url><loc>https://h/b</loc></url></urlset>'
    assert parse_sitemap(urlset, 10**6).pages == ("https://h/a", "https://h/b")
    index = b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://h/s1.xml</loc></sitemap></sitemapindex>'
    assert parse_sitemap(index, 10**6).sitemaps == ("https://h/s1.xml",)
    assert parse_sitemap(gzip.compress(urlset), 10**6).pages == ("https://h/a", "https://h/b")
    with pytest.raises(ValueError, match="expands past"):
        parse_sitemap(gzip.compress(b" " * 5000 + urlset), 1000)
    laughs = b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><urlset><url><loc>https://h/&b;</loc></url></urlset>'
    pages = parse_sitemap(laughs, 10**6).pages
    assert all("aaaaaaaaaa" not in p for p in pages)  # entities are never expanded


# -- the crawl, over an in-memory site -------------------------------------------------------------
def crawl(tmp_path: Path, pages: dict[str, tuple[int, str]], **options):
    """Run a web source's crawl against `pages` (path → (status, body)) through httpx's MockTransport."""
    import httpx

    from ingest.manifest import Manifest
    from ingest.remote import Collection
    from ingest.remote.web import Crawl, WebSource

    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        requested.append(path)
        status, body = pages.get(path, (404, "missing"))
        headers = {"content-type": "text/plain" if path.endswith(".txt") else "text/html"}
        if status in (301, 302):
            headers["location"] = body
            body = ""
        return httpx.Response(status, text=body, headers=headers)

    spec = {"name": "site", "kind": "web", "urls": ["http://site.test/"], "sitemap": False, **options}
    source = WebSource.from_spec(spec, tmp_path, "test")
    manifest = Manifest(tmp_path / "state.sqlite")
    ctx = Collection(source, manifest, "fp", tmp_path / "staging", ["all-staff"], 1.0)
    Crawl(source, ctx, transport=httpx.MockTransport(handler)).run()
    manifest.close()
    return ctx, requested


def chain(n: int) -> dict[str, tuple[int, str]]:
    pages = {"/robots.txt": (404, "")}
    pages["/"] = (200, '<a href="/p1.html">1</a>')
    for i in range(1, n):
        pages[f"/p{i}.html"] = (200, f'<p>page {i}</p><a href="/p{i + 1}.html">next</a>')
    return pages


def test_crawl_depth_and_page_limits(tmp_path):
    ctx, requested = crawl(tmp_path / "a", chain(10), max_depth=3)
    assert [Path(f.path).name for f in ctx.result.files] == ["site.test", "p1.html", "p2.html", "p3.html"]
    assert "/p4.html" not in requested and ctx.stats.complete  # a depth limit is part of the source: deletes go on

    ctx, requested = crawl(tmp_path / "b", chain(10), max_pages=3)
    assert len(ctx.result.files) == 3 and not ctx.stats.complete  # cut by max_pages: nothing is deleted
    assert ctx.result.notes and "max_pages=3 reached" in ctx.result.notes[0].error


def test_crawl_stays_on_the_site_and_honours_robots(tmp_path):
    pages = {
        "/robots.txt": (200, "User-agent: *\nDisallow: /secret\n"),
        "/": (200, '<a href="/secret/a.html">s</a> <a href="http://elsewhere.test/x.html">x</a> <a href="/moved">m</a> <a href="/away">a</a>'),
        "/moved": (301, "/new.html"),
        "/away": (302, "http://elsewhere.test/landing.html"),
        "/new.html": (200, "<p>new home</p>"),
    }
    ctx, requested = crawl(tmp_path, pages)
    assert sorted(f.path for f in ctx.result.files) == ["http://site.test/", "http://site.test/new.html"]
    assert not any(r.startswith("/secret") for r in requested) and ctx.stats.skipped >= 2


def test_crawl_include_picks_documents_exclude_stops_the_crawl(tmp_path):
    pages = {
        "/robots.txt": (404, ""),
        "/": (200, '<a href="/docs/a.html">a</a> <a href="/blog/">b</a> <a href="/drafts/x.html">x</a>'),
        "/blog/": (200, '<a href="/docs/b.html">b</a>'),
        "/docs/a.html": (200, "<p>a</p>"),
        "/docs/b.html": (200, "<p>b</p>"),
        "/drafts/x.html": (200, '<a href="/docs/c.html">c</a>'),
        "/docs/c.html": (200, "<p>c</p>"),
    }
    ctx, requested = crawl(tmp_path, pages, include=["docs/**"], exclude=["drafts/**"])
    assert sorted(f.path for f in ctx.result.files) == ["http://site.test/docs/a.html", "http://site.test/docs/b.html"]
    assert "/blog/" in requested and "/drafts/x.html" not in requested  # crawled through, never fetched


def test_crawl_robots_unavailable_fails_the_source(tmp_path):
    from ingest.remote import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="robots.txt must be readable"):
        crawl(tmp_path, {"/robots.txt": (503, "down"), "/": (200, "<p>x</p>")})


# -- IMAP folder names -----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "wire"), [("INBOX", b"INBOX"), ("Équipe", b"&AMk-quipe"), ("A & B", b"A &- B"), ("日本語", b"&ZeVnLIqe-"),
                                            ("Ärger/Öl", b"&AMQ-rger/&ANY-l")])  # fmt: skip
def test_modified_utf7_folder_names(name, wire):
    assert encode_folder_name(name) == wire and decode_folder_name(wire) == name


def test_list_lines_and_folder_globs():
    assert parse_list_line(b'(\\HasNoChildren) "." INBOX') == ("\\HasNoChildren", ".", b"INBOX")
    assert parse_list_line(b'(\\HasChildren) "/" "Shared/HR \\"x\\""') == ("\\HasChildren", "/", b'Shared/HR "x"')
    assert parse_list_line((b'(\\HasNoChildren) "." {5}', b"a b c")) == ("\\HasNoChildren", ".", b"a b c")
    assert parse_list_line(b"garbage") is None
    assert _folder_match("INBOX", "Inbox") and _folder_match("HR*", "HR") and not _folder_match("HR*", "HR/Reviews")
    assert _folder_match("HR/**", "HR/Reviews/2026") and not _folder_match("HR/**", "HRX")


# -- staging, caps, scopes -------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "safe"), [("report.PDF", "report.pdf"), ("../../etc/passwd", "passwd"), ("a:b?c.docx", "a_b_c.docx"),
                                            ("", "document"), ("...", "document"), ("x" * 300 + ".txt", "x" * 110 + ".txt")])  # fmt: skip
def test_safe_file_names(name, safe):
    assert safe_file_name(name) == safe


def test_downloads_are_capped(tmp_path):
    dest = tmp_path / "f.bin"
    assert write_capped([b"ab", b"cd"], dest, 4, 60, "x") == 4 and dest.read_bytes() == b"abcd"
    with pytest.raises(DownloadError, match="too large"):
        write_capped(iter([b"abc", b"def"]), dest, 4, 60, "x")
    assert not dest.exists()  # nothing half-written is left for the parser
    with pytest.raises(DownloadError, match="timeout: downloading x"):
        write_capped(iter([b"a", b"b"]), dest, 100, -1, "x")


def test_remote_scope_covers_only_its_listing():
    scope = RemoteScope("s3://bucket/docs/", ("**",), ("*.tmp",), ("s3://bucket/docs/blind/",))
    assert scope.covers("s3://bucket/docs/a.md") and scope.covers("s3://bucket/docs/x/y.pdf")
    assert not scope.covers("s3://bucket/other/a.md") and not scope.covers("s3://bucket/docs/a.tmp")
    assert not scope.covers("s3://bucket/docs/blind/a.md")


# -- sources.yaml ----------------------------------------------------------------------------------
def load(tmp_path: Path, *sources: dict):
    import yaml

    from ingest.source_config import load_source_config

    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": list(sources)}), encoding="utf-8")
    return load_source_config(path)[0]


def test_kinds_default_to_folder_and_parse(tmp_path):
    sources = load(tmp_path, {"name": "share", "root": "docs"},
                   {"name": "b", "kind": "s3", "bucket": "x", "access_key_env": "K", "secret_key_file": "~/s3-secret"},
                   {"name": "w", "kind": "web", "url": "https://Intranet/", "max_pages": 10},
                   {"name": "m", "kind": "imap", "host": "mail", "user": "u", "password_env": "P", "folders": ["INBOX", "Shared/*"]})  # fmt: skip
    assert [s.kind for s in sources] == ["folder", "s3", "web", "imap"]
    assert sources[0].root == tmp_path / "docs"
    assert sources[1].secret_key.file == str(Path("~/s3-secret").expanduser())
    assert sources[2].urls == ("https://intranet/",) and sources[2].max_pages == 10
    assert sources[3].port == 993 and sources[3].folders == (("INBOX", None), ("Shared/*", None))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "ftp"}, "unknown kind 'ftp'"),
        ({"kind": "s3", "bucket": "x", "access_key_env": "K", "secret_key": "plain-text"}, "holds a secret in the YAML"),
        ({"kind": "s3", "bucket": "x", "access_key_env": "K", "secret_key_env": "S", "secret_key_file": "/f"}, "not both"),
        ({"kind": "s3", "bucket": "x"}, "needs access_key_env and secret_key_env"),
        ({"kind": "s3", "access_key_env": "K", "secret_key_env": "S"}, "needs a `bucket`"),
        ({"kind": "s3", "bucket": "x", "access_key_env": "K", "secret_key_env": "S", "endpoint_url": "http://u:pw@h"}, "endpoint_url holds a password"),
        ({"kind": "s3", "bucket": "x", "credentials": "anonymous", "buckett": "typo"}, "unknown key(s) buckett"),
        ({"kind": "s3", "bucket": "x", "credentials": "anonymous", "secret_key_env": "not a name"}, "must name an environment variable"),
        ({"kind": "web"}, "needs `urls`"),
        ({"kind": "web", "urls": ["ftp://x/"]}, "is not an http(s) URL"),
        ({"kind": "web", "urls": ["https://u:pw@x/"]}, "a URL holds a password"),
        ({"kind": "web", "urls": ["https://x/"], "max_depth": -1}, "max_depth must be a whole number"),
        ({"kind": "web", "urls": ["https://x/"], "password_env": "P"}, "needs a `username`"),
        ({"kind": "imap", "host": "h", "user": "u"}, "needs password_env"),
        ({"kind": "imap", "host": "h", "user": "u", "password": "hunter2"}, "holds a secret in the YAML"),
        ({"kind": "imap", "host": "h", "user": "u", "password_env": "P", "folders": {"INBOX": ["bad group!"]}}, "invalid group name"),
        ({"kind": "web", "urls": ["https://x/"], "max_mb": 0}, "max_mb must be a positive number"),
        ({"kind": "imap", "host": "h", "user": "u", "password_env": "P", "include": ["x"]}, "choose what to read with `folders`"),
    ],
)
def test_bad_source_specs_name_the_fix(tmp_path, spec, message):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, {"name": "src", **spec})
    assert message in str(info.value) and "\n" not in str(info.value)


# -- credentials -----------------------------------------------------------------------------------
def test_secrets_come_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LORE_T_SECRET", "s3cr3t")
    ref = SecretRef.from_spec({"secret_key_env": "LORE_T_SECRET"}, "secret_key", "here")
    assert ref.read() == "s3cr3t" and ref.describe() == {"secret_key_env": "LORE_T_SECRET", "secret_key": MASK}
    monkeypatch.delenv("LORE_T_SECRET")
    with pytest.raises(InputError, match="environment variable LORE_T_SECRET is not set"):
        ref.read()
    assert ref.describe()["secret_key"] == ""
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-a-file\n", encoding="utf-8")
    ref = SecretRef.from_spec({"password_file": str(secret_file)}, "password", "here")
    assert ref.read() == "from-a-file" and ref.origin == f"file {secret_file}"
    assert SecretRef.from_spec({}, "password", "here") is None
    with pytest.raises(InputError, match="cannot read"):
        SecretRef("password", file=str(tmp_path / "absent")).read()


@pytest.mark.parametrize(
    ("url", "masked"),
    [("https://user:pw@host/x", f"https://user:{MASK}@host/x"), ("https://host/x?token=abc&page=2", f"https://host/x?token={MASK}&page=2"),
     ("https://host/x?X-Amz-Signature=ff&a=1", f"https://host/x?X-Amz-Signature={MASK}&a=1"), ("https://host/x", "https://host/x"), ("", "")],
)  # fmt: skip
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_config_show_masks_source_credentials(tmp_path, lore_home, monkeypatch, capsys):
    import json

    import yaml

    from app.cli import main

    monkeypatch.setenv("LORE_T_S3_SECRET", "very-secret-value")
    monkeypatch.setenv("LORE_T_IMAP", "imap-password-value")
    config = tmp_path / "sources.yaml"
    config.write_text(yaml.safe_dump({"sources": [
        {"name": "b", "kind": "s3", "bucket": "x", "access_key_env": "LORE_T_S3_KEY", "secret_key_env": "LORE_T_S3_SECRET"},
        {"name": "m", "kind": "imap", "host": "mail", "user": "u", "password_env": "LORE_T_IMAP"},
    ]}), encoding="utf-8")  # fmt: skip
    assert main(["config", "show", "--profile", "test", "--source-config", str(config), "--json"]) == 0
    out = capsys.readouterr().out
    assert "very-secret-value" not in out and "imap-password-value" not in out
    bucket, mailbox = json.loads(out)["sources"]["sources"]
    assert bucket["secret_key"] == MASK and bucket["secret_key_env"] == "LORE_T_S3_SECRET" and bucket["access_key"] == ""  # key unset
    assert mailbox["password"] == MASK and mailbox["location"] == "imap://u@mail:993/"


# -- the manifest's change tokens ------------------------------------------------------------------
def test_tokens_commit_with_the_content_and_roll_back_with_it(tmp_path):
    from dataclasses import replace

    from ingest.manifest import DocumentRecord, Manifest

    manifest = Manifest(tmp_path / "state.sqlite")
    doc = DocumentRecord("d1", "s3://b/k", "b/k", "s3://b/", "h1", 1, 0.0, ("all-staff",), "fp", "etag1")
    manifest.begin_write(doc, ["c1"], "r1")
    assert manifest.get("d1").token == ""  # a first write not yet committed vouches for no version
    manifest.commit_write(doc, ["c1"], [], "r1")
    assert manifest.get("d1").token == "etag1"
    manifest.begin_write(replace(doc, token="etag2", sha256="h2"), ["c2"], "r2")  # killed here: the next run rolls back
    manifest.roll_back_write("d1", force_reparse=False)
    assert (manifest.get("d1").token, manifest.get("d1").sha256) == ("etag1", "h1")  # the old version, as committed
    manifest.roll_back_write("d1", force_reparse=True)
    assert (manifest.get("d1").token, manifest.get("d1").sha256) == ("", "")  # read again on the next run
    manifest.close()


def test_an_older_manifest_gains_the_token_column(tmp_path):
    from ingest.manifest import DocumentRecord, Manifest

    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE documents (doc_id TEXT PRIMARY KEY, path TEXT NOT NULL, source TEXT NOT NULL, root TEXT NOT NULL, sha256 TEXT NOT NULL,"
               " size INTEGER NOT NULL, mtime REAL NOT NULL, groups TEXT NOT NULL, fingerprint TEXT NOT NULL, chunk_ids TEXT NOT NULL,"
               " state TEXT NOT NULL, pending_ids TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', run_id TEXT NOT NULL, updated REAL NOT NULL)")  # fmt: skip
    db.execute("INSERT INTO documents VALUES ('d','/a','a','/','h',1,0,'all-staff','fp','[\"c\"]','ok','[]','','r',0)")
    db.commit()
    db.close()
    manifest = Manifest(path)
    assert manifest.get("d").token == "" and manifest.get("d").chunk_ids == ("c",)
    manifest.record_failure(DocumentRecord("e", "/b", "b", "/", "h", 1, 0.0, (), "fp", "t"), "no text: x", "r")
    assert manifest.get("e").token == "t" and manifest.get("e").state == "failed"
    manifest.close()


def test_source_runs_status_and_ownership(tmp_path):
    from ingest.manifest import Manifest
    from ingest.remote import SourceStats
    from ingest.source_status import record_source_runs
    from ingest.sources import ScanResult
    from retrieval.schema import FileFailure, IngestReport, SourceFile

    folder, bucket, site, mail = load(
        tmp_path, {"name": "share", "root": str(tmp_path / "share")},
        {"name": "bucket", "kind": "s3", "bucket": "b", "prefix": "docs/", "credentials": "anonymous"},
        {"name": "site", "kind": "web", "urls": ["https://intranet:8443/"]},
        {"name": "mail", "kind": "imap", "host": "mail.example.com", "user": "u", "password_env": "P"},
    )  # fmt: skip
    found = ScanResult(files=[SourceFile(str(tmp_path / "share" / "a.md"), "share/a.md", str(tmp_path / "share"), 1, 0.0),
                              SourceFile("s3://b/docs/x.pdf", "bucket/x.pdf", "s3://b/docs/", 1, 0.0),
                              SourceFile("s3://b/other/y.pdf", "?", "s3://b/", 1, 0.0),
                              SourceFile("https://intranet:8443/a", "site/a", "https://intranet:8443/", 1, 0.0)])  # fmt: skip
    report = IngestReport(failed=[FileFailure("s3://b/docs/x.pdf", "no text: …"), FileFailure("https://intranet:8443/b", "HTTP 404: …"),
                                  FileFailure("https://intranet/b", "another port"), FileFailure(mail.location, "source 'mail': refused")])  # fmt: skip
    stats = {"bucket": SourceStats(listed=1, downloaded=1, complete=True), "site": SourceStats(listed=2, complete=True),
             "mail": SourceStats(error="refused")}  # fmt: skip
    manifest = Manifest(tmp_path / "state.sqlite")
    manifest.record_source_run("retired", "s3", "s3://old/", "r0", "ok", {"files": 1, "failed": 0}, [])
    record_source_runs(manifest, [folder, bucket, site, mail], found, stats, report, "r1")
    runs = {r["name"]: r for r in manifest.source_runs()}
    assert set(runs) == {"share", "bucket", "site", "mail"}  # the source no longer configured is forgotten
    assert (runs["share"]["status"], runs["share"]["files"], runs["share"]["failed"]) == ("ok", 1, 0)
    assert (runs["bucket"]["status"], runs["bucket"]["files"], runs["bucket"]["downloaded"]) == ("partial", 1, 1)  # not other/y.pdf
    assert [f["path"] for f in runs["site"]["failures"]] == ["https://intranet:8443/b"]
    assert runs["mail"]["status"] == "failed" and runs["mail"]["failures"][0]["error"] == "source 'mail': refused"
    manifest.close()
