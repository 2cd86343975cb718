"""Sources beyond a folder, end to end against real servers on loopback: an S3 API server (moto's
standalone server, spoken to over HTTP by boto3), a web site (`http.server`) and an IMAP mailbox
(Dovecot with a throw-away configuration). Each: add, change and delete between runs, groups from
the source's own permissions, unchanged items not downloaded again, and a source that cannot be
listed failing in one line with nothing deleted. The embedder is the test profile's hash embedder;
parsing is the real loaders (in parser worker processes for the first run)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


# -- helpers ---------------------------------------------------------------------------------------
def write_config(path: Path, *sources: dict) -> Path:
    path.write_text(yaml.safe_dump({"sources": list(sources)}), encoding="utf-8")
    return path


def ingest(config: Path, workers: bool = False):
    from ingest.pipeline import Ingestor
    from retrieval.settings import load_settings

    settings = load_settings(overrides={"profile": "test", "ingest": {"workers": 2}})
    return Ingestor(settings, in_process=not workers).run_sources(config)


def stored() -> dict[str, dict]:
    """path → {"source", "groups", "text"} of every document in the store (chunks joined)."""
    from retrieval.settings import load_settings
    from retrieval.store import make_store

    out: dict[str, dict] = {}
    for chunk in make_store(load_settings(overrides={"profile": "test"})).iter_chunks():
        doc = out.setdefault(chunk.path, {"source": chunk.source, "groups": tuple(sorted(chunk.groups)), "text": ""})
        doc["text"] += chunk.text + "\n"
    return out


def source_runs() -> dict[str, dict]:
    from ingest.manifest import Manifest
    from retrieval.settings import load_settings

    manifest = Manifest(load_settings(overrides={"profile": "test"}).state_db)
    try:
        return {r["name"]: r for r in manifest.source_runs()}
    finally:
        manifest.close()


def counts(report) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.unchanged, report.deleted


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lore_status(home: Path) -> dict:
    environ = {**os.environ, "LORE_HOME": str(home)}
    result = subprocess.run([sys.executable, "-m", "app.cli", "status", "--profile", "test", "--json"], cwd=REPO, env=environ,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- S3 --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_server():
    server_module = pytest.importorskip("moto.server", reason="moto is not installed: pip install -e '.[dev]' (moto[s3], flask, flask-cors)")
    ThreadedMotoServer = server_module.ThreadedMotoServer  # noqa: N806 - the class, as moto names it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_bucket_add_change_delete(s3_server, lore_home, tmp_path, monkeypatch):
    import boto3

    monkeypatch.setenv("LORE_TEST_S3_KEY", "testing")
    monkeypatch.setenv("LORE_TEST_S3_SECRET", "testing-secret")
    client = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="testing", aws_secret_access_key="testing-secret", region_name="us-east-1")
    client.create_bucket(Bucket="company")
    client.put_object(Bucket="company", Key="docs/policies/travel.md", Body=b"# Travel\n\nInternational travel needs approval 14 days ahead.\n")
    client.put_object(Bucket="company", Key="docs/hr/leave.txt", Body=b"Parental leave lasts 16 weeks at full pay.\n")
    client.put_object(Bucket="company", Key="docs/board/falcon.txt", Body=b"Project Falcon closes in March.\n", Tagging="lore-groups=board")
    client.put_object(Bucket="company", Key="docs/archive.zip.part", Body=b"not a document\n")
    client.put_object(Bucket="company", Key="other/outside.txt", Body=b"Outside the prefix.\n")
    spec = {"name": "bucket", "kind": "s3", "bucket": "company", "prefix": "docs/", "endpoint_url": s3_server,
            "access_key_env": "LORE_TEST_S3_KEY", "secret_key_env": "LORE_TEST_S3_SECRET", "acl": {"hr/**": ["hr"]},
            "tag_groups": "lore-groups", "exclude": ["*.part"], "groups": ["staff"]}  # fmt: skip
    config = write_config(tmp_path / "sources.yaml", spec)

    first = ingest(config, workers=True)
    assert counts(first) == (3, 0, 0, 0) and first.failed == [], first.failed
    docs = stored()
    assert set(docs) == {"s3://company/docs/policies/travel.md", "s3://company/docs/hr/leave.txt", "s3://company/docs/board/falcon.txt"}
    assert docs["s3://company/docs/hr/leave.txt"]["groups"] == ("hr",)  # the prefix rule
    assert docs["s3://company/docs/board/falcon.txt"]["groups"] == ("board",)  # the object's tag
    assert docs["s3://company/docs/policies/travel.md"]["groups"] == ("staff",)  # the source's groups
    assert docs["s3://company/docs/policies/travel.md"]["source"] == "bucket/policies/travel.md"
    assert "14 days" in docs["s3://company/docs/policies/travel.md"]["text"]

    again = ingest(config)
    assert counts(again) == (0, 0, 3, 0)
    assert source_runs()["bucket"]["downloaded"] == 0  # the ETags matched: nothing fetched

    client.put_object(Bucket="company", Key="docs/policies/travel.md", Body=b"# Travel\n\nInternational travel needs approval 21 days ahead.\n")
    client.delete_object(Bucket="company", Key="docs/board/falcon.txt")
    client.put_object(Bucket="company", Key="docs/it/vpn.md", Body=b"# VPN\n\nThe VPN certificate renews every 90 days.\n")
    client.put_object_tagging(Bucket="company", Key="docs/hr/leave.txt", Tagging={"TagSet": [{"Key": "lore-groups", "Value": "hr managers"}]})
    third = ingest(config)
    assert counts(third) == (1, 2, 0, 1), third.to_json()  # vpn added; travel (content) and leave (tag) updated; falcon deleted
    docs = stored()
    assert "s3://company/docs/board/falcon.txt" not in docs and "s3://company/docs/it/vpn.md" in docs
    assert "21 days" in docs["s3://company/docs/policies/travel.md"]["text"] and "14 days" not in docs["s3://company/docs/policies/travel.md"]["text"]
    assert docs["s3://company/docs/hr/leave.txt"]["groups"] == ("hr", "managers")
    assert source_runs()["bucket"]["status"] == "ok" and source_runs()["bucket"]["downloaded"] == 3

    # A source that cannot be listed: one line naming the fix, the rest of the run goes on, nothing deleted.
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "memo.md").write_text("# Memo\n\nThe canteen opens at 8.\n", encoding="utf-8")
    folder = {"name": "notes", "root": str(tmp_path / "notes")}
    for broken, expected in (
        ({"bucket": "no-such-bucket"}, "bucket 'no-such-bucket' does not exist"),
        ({"endpoint_url": f"http://127.0.0.1:{free_port()}", "timeout_s": 2}, "cannot reach the S3 endpoint"),
        ({"secret_key_env": "LORE_TEST_S3_UNSET"}, "environment variable LORE_TEST_S3_UNSET is not set"),
    ):
        report = ingest(write_config(tmp_path / "broken.yaml", {**spec, **broken}, folder))
        assert report.deleted == 0 and len(stored()) == 4, report.to_json()
        lines = [f.error for f in report.failed]
        assert len(lines) == 1 and expected in lines[0] and "nothing from this source was deleted" in lines[0], lines
        assert source_runs()["bucket"]["status"] == "failed" and source_runs()["notes"]["status"] == "ok"
    assert "s3://company/docs/it/vpn.md" in stored()

    status = lore_status(lore_home)
    by_name = {s["name"]: s for s in status["sources"]}
    assert by_name["bucket"]["kind"] == "s3" and by_name["bucket"]["status"] == "failed"
    assert "environment variable LORE_TEST_S3_UNSET is not set" in by_name["bucket"]["failures"][0]["error"]


def test_s3_sigkill_mid_run_then_rerun_equals_clean_ingest(s3_server, tmp_path):
    """kill -9 of a `lore ingest --source-config` reading a bucket, twice; the next run repairs the store
    (same chunk ids as a clean run), commits every change token, and leaves no downloads behind."""
    import signal
    import sqlite3

    import boto3
    import chromadb

    client = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")
    client.create_bucket(Bucket="killed")
    for i in range(30):
        body = f"# Note {i}\n\n" + "\n\n".join(f"Paragraph {j} of note {i} says item {i * 100 + j} is stored in room {j}." for j in range(12))
        client.put_object(Bucket="killed", Key=f"notes/note-{i:02d}.md", Body=body.encode())
    spec = {"name": "notes", "kind": "s3", "bucket": "killed", "endpoint_url": s3_server, "access_key_env": "LORE_TEST_S3_KEY",
            "secret_key_env": "LORE_TEST_S3_SECRET"}  # fmt: skip
    config = write_config(tmp_path / "sources.yaml", spec)
    env = {**os.environ, "LORE_TEST_S3_KEY": "k", "LORE_TEST_S3_SECRET": "s", "LORE_PROFILE": "test", "LORE_INGEST__EMBED_BATCH_SIZE": "1"}

    def run(home: Path, wait_for_rows: int | None = None) -> tuple[int, dict | None]:
        process = subprocess.Popen([sys.executable, "-m", "app.cli", "ingest", "--source-config", str(config), "--json"], cwd=REPO,
                                   env={**env, "LORE_HOME": str(home)}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while wait_for_rows is not None and time.monotonic() < deadline and process.poll() is None:
            try:
                rows = sqlite3.connect(home / "state-lore.sqlite", timeout=1).execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            except sqlite3.Error:
                rows = 0
            if rows >= wait_for_rows:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        out = process.communicate(timeout=120)[0]
        return process.returncode, json.loads(out) if process.returncode == 0 else None

    def chunk_ids(home: Path) -> set[str]:
        return set(chromadb.PersistentClient(path=str(home / "chroma")).get_collection("lore").get(include=[])["ids"])

    code, clean = run(tmp_path / "clean")
    assert code == 0 and clean["added"] == 30
    home = tmp_path / "killed"
    kills = sum(run(home, rows)[0] == -signal.SIGKILL for rows in (1, 12))
    assert kills >= 1
    code, final = run(home)
    assert code == 0 and final["failed"] == []
    assert chunk_ids(home) == chunk_ids(tmp_path / "clean")
    rows = sqlite3.connect(home / "state-lore.sqlite").execute("SELECT state, token FROM documents").fetchall()
    assert len(rows) == 30 and {state for state, _ in rows} == {"ok"} and all(token for _, token in rows)
    assert not (home / "staging").exists()
    assert run(home)[1]["unchanged"] == 30


# -- a web site ------------------------------------------------------------------------------------
SITE = {
    "/robots.txt": "User-agent: *\nDisallow: /private/\nSitemap: /sitemap.xml\n",
    "/sitemap.xml": '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    "<url><loc>{base}/orphan.html</loc></url></urlset>",
    "/": '<html><head><title>Intranet</title></head><body><h1>Intranet home</h1><p>Welcome to the intranet of Northwind.</p>'
    '<a href="/handbook/leave.html">Leave</a> <a href="old-policy">Old policy</a> <a href="/private/salaries.html">Salaries</a>'
    ' <a href="/missing.html">Broken</a> <a href="/hr/bonus.html#top">Bonus</a> <a href="/style.css">CSS</a>'
    ' <a href="http://elsewhere.invalid/page.html">Elsewhere</a> <a href="/deep/1.html">Deep</a></body></html>',
    "/handbook/leave.html": "<html><body><h1>Leave</h1><p>Staff receive 25 days of paid leave per year.</p>"
    '<a href="../hr/bonus.html">Bonus</a></body></html>',
    "/hr/bonus.html": "<html><body><h1>Bonus</h1><p>The annual bonus is paid in December.</p></body></html>",
    "/policies/current.html": "<html><body><h1>Policy</h1><p>The clean desk policy applies to every office.</p></body></html>",
    "/private/salaries.html": "<html><body><p>Salary bands are secret.</p></body></html>",
    "/orphan.html": "<html><body><h1>Orphan</h1><p>Only the sitemap links the parking rules page.</p></body></html>",
    "/deep/1.html": '<html><body><p>Depth one page about fire drills.</p><a href="/deep/2.html">next</a></body></html>',
    "/deep/2.html": "<html><body><p>Depth two page about first aid.</p></body></html>",
    "/style.css": "body { color: red }",
}
REDIRECTS = {"/old-policy": "/policies/current.html"}


class Site:
    """A small site on loopback: pages can be changed or removed between runs; ETag/304 honoured."""

    def __init__(self):
        self.pages = dict(SITE)
        self.requests: list[tuple[str, int]] = []
        self.failing: set[str] = set()  # paths that answer 500
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                path = self.path.split("#", 1)[0]
                if path in site.failing:
                    return self._send(500, b"boom")
                if path in REDIRECTS:
                    return self._send(301, b"", {"Location": REDIRECTS[path]})
                if path not in site.pages:
                    return self._send(404, b"not found")
                body = site.pages[path].replace("{base}", site.base).encode()
                etag = f'"{abs(hash(body)) % 10**12}"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", {"ETag": etag})
                ctype = {"txt": "text/plain", "xml": "application/xml", "css": "text/css"}.get(path.rsplit(".", 1)[-1], "text/html; charset=utf-8")
                return self._send(200, body, {"ETag": etag, "Content-Type": ctype})

            def _send(self, code, body, headers=None):
                site.requests.append((self.path, code))
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    server = Site()
    yield server
    server.close()


def test_web_site_add_change_delete(site, lore_home, tmp_path):
    base = site.base
    spec = {"name": "intranet", "kind": "web", "urls": [f"{base}/"], "max_depth": 1, "acl": {"hr/**": ["hr"]}}
    config = write_config(tmp_path / "sources.yaml", spec)

    first = ingest(config, workers=True)
    docs = stored()
    expected = {f"{base}/", f"{base}/handbook/leave.html", f"{base}/hr/bonus.html", f"{base}/policies/current.html",
                f"{base}/orphan.html", f"{base}/deep/1.html"}  # fmt: skip
    assert set(docs) == expected, sorted(docs)  # not /private (robots.txt), not /deep/2 (max_depth), not the CSS or another host
    assert counts(first) == (6, 0, 0, 0)
    assert [f.error for f in first.failed] == ["HTTP 404: the page does not exist (linked from " + base + "/); fix or remove the link"]
    assert docs[f"{base}/hr/bonus.html"]["groups"] == ("hr",) and docs[f"{base}/"]["groups"] == ("all-staff",)
    assert "clean desk" in docs[f"{base}/policies/current.html"]["text"]  # reached through the redirect
    assert docs[f"{base}/handbook/leave.html"]["source"] == "intranet/handbook/leave.html"
    assert not any(path.startswith("/private") for path, _ in site.requests)

    site.requests.clear()
    again = ingest(config)
    assert counts(again) == (0, 0, 6, 0)
    assert sum(1 for _, code in site.requests if code == 304) == 6 and not any(code == 200 and p != "/robots.txt" and p != "/sitemap.xml"
                                                                             for p, code in site.requests)  # fmt: skip

    site.pages["/handbook/leave.html"] = "<html><body><h1>Leave</h1><p>Staff receive 28 days of paid leave per year.</p></body></html>"
    del site.pages["/hr/bonus.html"]  # removed between the runs: still linked from the home page, now a 404
    site.pages["/"] = site.pages["/"].replace('<a href="/deep/1.html">Deep</a>', '<a href="/news.html">News</a>')  # deep/1 unlinked
    site.pages["/news.html"] = "<html><body><h1>News</h1><p>The new office in Lyon opens in May.</p></body></html>"
    third = ingest(config)
    docs = stored()
    assert counts(third) == (1, 2, 2, 2), third.to_json()  # news added; home and leave updated; bonus (404) and deep/1 (unreached) deleted
    assert f"{base}/hr/bonus.html" not in docs and f"{base}/deep/1.html" not in docs and f"{base}/news.html" in docs
    assert "28 days" in docs[f"{base}/handbook/leave.html"]["text"]

    # The site down: one line, nothing deleted.
    site.close()
    down = ingest(config)
    assert down.deleted == 0 and len(stored()) == 5
    assert len(down.failed) == 1 and "cannot reach 127.0.0.1" in down.failed[0].error and "nothing from this source was deleted" in down.failed[0].error
    assert source_runs()["intranet"]["status"] == "failed"


def test_web_server_errors_keep_pages(site, lore_home, tmp_path):
    """A page answering 500 makes the crawl incomplete: the pages it led to are kept, not deleted."""
    base = site.base
    config = write_config(tmp_path / "sources.yaml", {"name": "intranet", "kind": "web", "urls": [f"{base}/"], "max_depth": 2, "sitemap": False})
    ingest(config)
    assert {f"{base}/deep/1.html", f"{base}/deep/2.html"} <= set(stored())
    site.failing.add("/deep/1.html")
    report = ingest(config)
    assert report.deleted == 0 and {f"{base}/deep/1.html", f"{base}/deep/2.html"} <= set(stored())
    assert [f.error for f in report.failed if "deep" in f.path] == ["HTTP 500 from the server: retried on the next run"]


# -- IMAP ------------------------------------------------------------------------------------------
def _dovecot() -> str:
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if not found:
        pytest.skip("Dovecot is not installed: apt-get install --no-install-recommends dovecot-imapd (make system-deps) to run the IMAP test")
    return found


@pytest.fixture
def imap_server():
    """Dovecot on loopback with a throw-away configuration: one user, Maildir in a temporary folder
    that Dovecot's own processes can read (pytest's tmp_path is private to the test's user)."""
    import pwd
    import tempfile

    binary = _dovecot()
    root = Path(tempfile.mkdtemp(prefix="lore-dovecot-"))
    root.chmod(0o755)
    (root / "home").mkdir(parents=True)
    port = free_port()
    if os.geteuid() == 0:  # root: mail runs as Dovecot's own user (uid 0 is refused), logins as dovenull
        mail = pwd.getpwnam("dovecot")
        uid, gid, internal, login = mail.pw_uid, mail.pw_gid, "dovecot", "dovenull"
        os.chown(root / "home", uid, gid)
    else:
        me = pwd.getpwuid(os.getuid())
        uid, gid, internal, login = me.pw_uid, me.pw_gid, me.pw_name, me.pw_name
    (root / "passwd").write_text("alice:{PLAIN}wonderland::::::\n", encoding="utf-8")
    (root / "dovecot.conf").write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {internal}
default_internal_group = {internal if internal != "dovecot" else "dovecot"}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""", encoding="utf-8")  # fmt: skip
    process = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else process.stderr.read().decode()
                shutil.rmtree(root, ignore_errors=True)
                pytest.fail(f"Dovecot did not start: {log[-2000:]}")
            time.sleep(0.2)
    yield port
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(root, ignore_errors=True)


def mail(subject: str, body: str, attachments: list[tuple[str, bytes, str]] = ()) -> bytes:
    message = EmailMessage()
    message["From"] = "Jane Roe <jane@example.com>"
    message["To"] = "staff@example.com"
    message["Subject"] = subject
    message["Date"] = "Thu, 03 Dec 2026 10:00:00 +0000"
    message.set_content(body)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def test_imap_mailbox_add_change_delete(imap_server, lore_home, tmp_path, monkeypatch):
    import imaplib

    from ingest.remote.imap import encode_folder_name

    monkeypatch.setenv("LORE_TEST_IMAP_PASSWORD", "wonderland")
    client = imaplib.IMAP4("127.0.0.1", imap_server)
    client.login("alice", "wonderland")
    team = '"' + encode_folder_name("Équipe").decode() + '"'  # modified UTF-7 on the wire
    for folder in ("HR", "HR.Reviews", "Archive", team):  # Dovecot's Maildir separates levels with "."
        assert client.create(folder)[0] == "OK"
    client.append("INBOX", None, None, mail("Printer on floor 3", "The printer on floor 3 is repaired and takes badges again."))
    client.append("INBOX", None, None, mail("Quarterly targets", "See the attached targets.",
                                            [("targets.csv", b"region,target\nNorth,120\nSouth,95\n", "text/csv"),
                                             ("signature.p7s", b"\x30\x82", "application/pkcs7-signature")]))  # fmt: skip
    client.append("HR", None, None, mail("Pay day", "Salaries are paid on the 25th of each month."))
    client.append("HR.Reviews", None, None, mail("Review cycle", "Performance reviews are due by 15 January."))
    client.append(team, None, None, mail("Budget", "The team budget for offsites is 4,000 euros."))
    client.append("Archive", None, None, mail("Old news", "Not configured: never read."))
    spec = {"name": "mail", "kind": "imap", "host": "127.0.0.1", "port": imap_server, "ssl": False, "user": "alice",
            "password_env": "LORE_TEST_IMAP_PASSWORD",
            "folders": {"INBOX": ["support"], "HR": ["hr"], "HR/**": ["hr", "managers"], "Équipe": ["team"]}}  # fmt: skip
    config = write_config(tmp_path / "sources.yaml", spec)

    first = ingest(config, workers=True)
    assert first.failed == [], first.failed
    docs = stored()
    by_source = {d["source"]: d for d in docs.values()}
    assert sorted(by_source) == ["mail/HR/1 Pay day.eml", "mail/HR/Reviews/1 Review cycle.eml", "mail/INBOX/1 Printer on floor 3.eml",
                                 "mail/INBOX/2 Quarterly targets.eml", "mail/INBOX/2 Quarterly targets/targets.csv",
                                 "mail/Équipe/1 Budget.eml"]  # fmt: skip
    assert counts(first) == (6, 0, 0, 0)  # the signature is no document; Archive is not configured
    assert by_source["mail/HR/1 Pay day.eml"]["groups"] == ("hr",)
    assert by_source["mail/HR/Reviews/1 Review cycle.eml"]["groups"] == ("hr", "managers")
    assert by_source["mail/Équipe/1 Budget.eml"]["groups"] == ("team",)
    assert by_source["mail/INBOX/2 Quarterly targets/targets.csv"]["groups"] == ("support",)
    assert "North" in by_source["mail/INBOX/2 Quarterly targets/targets.csv"]["text"]
    assert "badges again" in by_source["mail/INBOX/1 Printer on floor 3.eml"]["text"]
    assert all(path.startswith(f"imap://alice@127.0.0.1:{imap_server}/") for path in docs)

    again = ingest(config)
    assert counts(again) == (0, 0, 6, 0) and source_runs()["mail"]["downloaded"] == 0

    # Change: one message expunged, one flagged deleted, one new, and the groups of HR's subfolders changed.
    client.select("INBOX")
    client.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    client.expunge()
    client.append("INBOX", None, None, mail("Canteen", "The canteen serves breakfast from 7:30."))
    client.select("HR")
    client.uid("STORE", "1", "+FLAGS", r"(\Deleted)")  # flagged, not expunged: counts as gone
    client.logout()
    spec["folders"] = {**spec["folders"], "HR/**": ["hr", "reviewers"]}
    third = ingest(write_config(config, spec))
    docs = stored()
    by_source = {d["source"]: d for d in docs.values()}
    assert sorted(by_source) == ["mail/HR/Reviews/1 Review cycle.eml", "mail/INBOX/2 Quarterly targets.eml",
                                 "mail/INBOX/2 Quarterly targets/targets.csv", "mail/INBOX/3 Canteen.eml", "mail/Équipe/1 Budget.eml"]  # fmt: skip
    assert counts(third) == (1, 1, 3, 2), third.to_json()
    assert by_source["mail/HR/Reviews/1 Review cycle.eml"]["groups"] == ("hr", "reviewers")

    # Wrong password: one line naming where the password comes from; nothing deleted.
    monkeypatch.setenv("LORE_TEST_IMAP_PASSWORD", "wrong")
    refused = ingest(config)
    assert refused.deleted == 0 and len(stored()) == 5
    assert len(refused.failed) == 1 and "refused the login of 'alice'" in refused.failed[0].error and "$LORE_TEST_IMAP_PASSWORD" in refused.failed[0].error
