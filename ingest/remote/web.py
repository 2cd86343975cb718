"""A web site or intranet as a source: a breadth-first crawl from start URLs (and the sitemaps),
same site only, robots.txt honoured, bounded by `max_pages` and `max_depth`.

    - name: intranet
      kind: web
      urls: [https://intranet.example.com/]
      max_pages: 500
      max_depth: 4
      acl: {"hr/**": [hr]}               # globs on the URL path below the host
      username: lore                      # optional basic auth; password_env / password_file
      password_env: LORE_INTRANET_PASSWORD

Pages are fetched with the validators of the committed version (If-None-Match / If-Modified-Since):
a 304 costs no download and no parse. HTML goes through the same loader as `.html` files. A page
the server answers 404 or 410 for is deleted; pages no longer reached are deleted only after a
crawl that met no error and no limit.
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.remote.base import Collection, DownloadError, RemoteSource, SourceUnavailable, too_large
from ingest.remote.credentials import SecretRef, mask_url
from ingest.remote.urls import AGENT, Robots, normalise_url, page_links, parse_sitemap, relative_path, site_of, worth_fetching
from retrieval.errors import ConfigError

HTML_TYPES = {"text/html", "application/xhtml+xml"}
CONTENT_TYPES = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt", "text/markdown": ".md", "text/csv": ".csv",
                 "application/pdf": ".pdf", "message/rfc822": ".eml"}  # fmt: skip
REDIRECTS = {301, 302, 303, 307, 308}
LINKS_TABLE = "CREATE TABLE IF NOT EXISTS web_links (url TEXT PRIMARY KEY, token TEXT NOT NULL, links TEXT NOT NULL)"


@dataclass(frozen=True)
class WebSource(RemoteSource):
    kind = "web"
    keys = frozenset({"urls", "url", "sitemap", "sitemaps", "max_pages", "max_depth", "user_agent", "delay_s", "username",
                      "password_env", "password_file", "token_env", "token_file", "verify_tls", "ca_bundle"})  # fmt: skip

    urls: tuple[str, ...] = ()
    sitemap: bool = True  # read the sitemaps robots.txt names, else /sitemap.xml
    sitemaps: tuple[str, ...] = ()
    max_pages: int = 1000
    max_depth: int = 5
    user_agent: str = f"{AGENT}/1.0 (Lore knowledge assistant)"
    delay_s: float = 0.0
    username: str = ""
    password: SecretRef | None = None
    token: SecretRef | None = None
    verify_tls: bool = True
    ca_bundle: str = ""

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], base: Path, where: str) -> WebSource:
        options = cls.common(spec, base, where, cls.keys)
        name = options["name"]
        raw = spec.get("urls", spec.get("url"))
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"{where}: web source {name!r} needs `urls` (the start pages)")
        urls = []
        for value in raw:
            if "@" in str(value) and urlsplit(str(value)).password:
                raise ConfigError(f"{where}: web source {name!r}: a URL holds a password; use username with password_env or password_file")
            url = normalise_url(str(value))
            if url is None:
                raise ConfigError(f"{where}: web source {name!r}: {mask_url(str(value))!r} is not an http(s) URL")
            urls.append(url)
        sitemaps = spec.get("sitemaps", [])
        sitemaps = [sitemaps] if isinstance(sitemaps, str) else sitemaps
        numbers = {}
        for key, default, low in (("max_pages", 1000, 1), ("max_depth", 5, 0)):
            value = spec.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{where}: web source {name!r}: {key} must be a whole number ≥ {low}")
            numbers[key] = value
        delay = spec.get("delay_s", 0.0)
        if not isinstance(delay, (int, float)) or delay < 0:
            raise ConfigError(f"{where}: web source {name!r}: delay_s must be a number ≥ 0")
        who = f"{where} source {name!r}"
        password, token = SecretRef.from_spec(spec, "password", who), SecretRef.from_spec(spec, "token", who)
        if password is not None and not spec.get("username"):
            raise ConfigError(f"{where}: web source {name!r}: password_env needs a `username`")
        return cls(
            **options, urls=tuple(urls), sitemap=bool(spec.get("sitemap", True)), sitemaps=tuple(str(s) for s in sitemaps),
            user_agent=str(spec.get("user_agent") or cls.user_agent), delay_s=float(delay), username=str(spec.get("username", "") or ""),
            password=password, token=token, verify_tls=bool(spec.get("verify_tls", True)),
            ca_bundle=str(spec.get("ca_bundle", "") or ""), **numbers,
        )  # fmt: skip

    @property
    def location(self) -> str:
        return ", ".join(mask_url(u) for u in self.urls)

    @property
    def sites(self) -> frozenset[str]:
        return frozenset(site_of(u) for u in self.urls)

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "urls": [mask_url(u) for u in self.urls], "max_pages": self.max_pages, "max_depth": self.max_depth,
               "sitemap": self.sitemap, "username": self.username}  # fmt: skip
        for ref in (self.password, self.token):
            if ref is not None:
                out.update(ref.describe())
        return out

    def collect(self, ctx: Collection) -> None:
        Crawl(self, ctx).run()


class Crawl:
    """One crawl of a web source (state kept here, not on the frozen source)."""

    def __init__(self, source: WebSource, ctx: Collection, transport: Any = None):
        import httpx

        from ingest.loaders import SUPPORTED

        self.source = source
        self.ctx = ctx
        self.document_types = frozenset(SUPPORTED)
        headers = {"User-Agent": source.user_agent}
        auth = None
        if source.token is not None:
            headers["Authorization"] = f"Bearer {source.token.read()}"
        elif source.password is not None:
            auth = httpx.BasicAuth(source.username, source.password.read())
        verify: Any = source.ca_bundle or source.verify_tls
        self.client = httpx.Client(headers=headers, auth=auth, verify=verify, follow_redirects=False, timeout=httpx.Timeout(source.timeout_s),
                                   transport=transport)  # fmt: skip
        self.robots: dict[str, Robots] = {}
        self.last_request: dict[str, float] = {}
        self.complete = True  # no error that hides pages (5xx, timeouts), no limit reached
        self.done: set[str] = set()
        ctx.manifest.db.execute(LINKS_TABLE)

    def run(self) -> None:
        try:
            self._crawl()
        finally:
            self.client.close()

    def _crawl(self) -> None:
        import httpx

        ctx, source = self.ctx, self.source
        for site in sorted(source.sites):
            try:
                self.robots[site] = self._robots(site)
            except httpx.HTTPError as exc:
                raise SourceUnavailable(f"source {source.name!r}: cannot reach {site} ({_reason(exc)}): check the URL and that the site is up") from exc
        queue: deque[tuple[str, int, str]] = deque((u, 0, "") for u in source.urls)
        queued = set(source.urls)
        for url in self._sitemap_pages():
            if url not in queued:
                queued.add(url)
                queue.append((url, 0, "sitemap"))
        fetched = 0
        while queue:
            url, depth, referrer = queue.popleft()
            if url in self.done:
                continue
            if not self.robots[site_of(url)].allowed(url):
                ctx.skip()
                continue
            if fetched >= source.max_pages:
                self.complete = False
                ctx.result.notes.append(_note(source, f"max_pages={source.max_pages} reached: pages not fetched are kept, not deleted; raise max_pages"))
                break
            fetched += 1
            for link in self._visit(url, depth, referrer):
                if link in queued or depth + 1 > source.max_depth or site_of(link) not in source.sites:
                    continue
                if not worth_fetching(link, self.document_types) or not self._allowed_path(link):
                    continue
                queued.add(link)
                queue.append((link, depth + 1, url))
        if self.complete:
            for site in sorted(source.sites):
                ctx.scope(f"http://{site}/")
                ctx.scope(f"https://{site}/")

    # -- politeness ------------------------------------------------------------------------------
    def _wait(self, site: str) -> None:
        robots = self.robots.get(site)
        delay = max(self.source.delay_s, min(robots.crawl_delay or 0.0, 30.0) if robots else 0.0)
        if delay and site in self.last_request:
            pause = self.last_request[site] + delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self.last_request[site] = time.monotonic()

    def _robots(self, site: str) -> Robots:
        """RFC 9309: 4xx means no rules; 5xx (or no answer) means nothing may be crawled now."""
        scheme = next(u.split(":", 1)[0] for u in self.source.urls if site_of(u) == site)
        url = f"{scheme}://{site}/robots.txt"
        self._wait(site)
        with self.client.stream("GET", url, follow_redirects=True) as response:
            if 400 <= response.status_code < 500:
                return Robots.allow_everything()
            if response.status_code >= 500:
                raise SourceUnavailable(f"source {self.source.name!r}: {url} answered HTTP {response.status_code}: "
                                        "robots.txt must be readable before the site is crawled; run again when it is")  # fmt: skip
            data = _read_capped(response, 512 * 1024)
        return Robots.parse(data.decode("utf-8", "replace"))

    def _included(self, url: str) -> bool:
        """`include` picks the pages that become documents; the others are still crawled for their links."""
        from ingest.globs import any_match

        return any_match(self.source.include, relative_path(url))

    def _allowed_path(self, url: str) -> bool:
        from ingest.globs import any_match

        return not any_match(self.source.exclude, relative_path(url))

    def _sitemap_pages(self) -> list[str]:
        import httpx

        source = self.source
        todo = [u for u in (normalise_url(s) for s in source.sitemaps) if u]
        explicit = set(todo)
        if source.sitemap:
            for site, robots in self.robots.items():
                scheme = next(u.split(":", 1)[0] for u in source.urls if site_of(u) == site)
                named = [u for u in (normalise_url(s, f"{scheme}://{site}/") for s in robots.sitemaps) if u and site_of(u) == site]
                todo += named or [f"{scheme}://{site}/sitemap.xml"]
        pages: list[str] = []
        read = 0
        while todo and read < 50:
            url = todo.pop(0)
            read += 1
            if site_of(url) not in source.sites:
                continue
            try:
                self._wait(site_of(url))
                with self.client.stream("GET", url, follow_redirects=True) as response:
                    if response.status_code != 200:
                        if url in explicit:
                            self.ctx.fail_source(f"sitemap {url} answered HTTP {response.status_code}: fix `sitemaps` in sources.yaml")
                        continue
                    sitemap = parse_sitemap(_read_capped(response, self.ctx.cap_bytes), self.ctx.cap_bytes)
            except (httpx.HTTPError, DownloadError, ValueError, SyntaxError) as exc:
                if url in explicit:
                    self.ctx.fail_source(f"sitemap {url} could not be read ({_reason(exc)}): check it")
                continue
            todo += [u for u in (normalise_url(s) for s in sitemap.sitemaps) if u]
            pages += [u for u in (normalise_url(p) for p in sitemap.pages) if u and site_of(u) in source.sites]
        return pages

    # -- one page --------------------------------------------------------------------------------
    def _visit(self, url: str, depth: int, referrer: str) -> tuple[str, ...]:
        """Fetch `url` (following same-site redirects), add it as a document; its links."""
        import httpx

        ctx = self.ctx
        unconditional = False
        for _hop in range(6):
            self.done.add(url)
            rel = relative_path(url)
            groups = ctx.groups_for(rel)
            known = ctx.known(url)
            current = ctx.current(url, known.token, groups) if known is not None else None
            headers = _validators(current.token) if current is not None and not unconditional else {}
            self._wait(site_of(url))
            try:
                with self.client.stream("GET", url, headers=headers) as response:
                    status = response.status_code
                    if status in REDIRECTS and response.headers.get("location"):
                        target = normalise_url(response.headers["location"], url)
                        if target is None or site_of(target) not in self.source.sites or not self.robots[site_of(target)].allowed(target):
                            ctx.skip()
                            return ()
                        if target in self.done:
                            return ()
                        url = target
                        continue
                    if status == 304 and current is not None:
                        links = self._stored_links(url, current.token)
                        if links is not None:
                            ctx.unchanged(url, self._display(url), self._root(url), current)
                            return links
                        unconditional = True  # the links were not kept: fetch the page again, whole
                        continue
                    if status == 200:
                        return self._page(url, response, groups, known)
                    self._status(url, status, referrer, known)
                    return ()
            except httpx.HTTPError as exc:
                self.complete = False
                ctx.fail(url, f"could not be fetched ({_reason(exc)}): retried on the next run")
                return ()
            except DownloadError as exc:
                ctx.fail(url, str(exc))
                return ()
        ctx.fail(url, "too many redirects (over 5): fix the redirect chain on the server")
        return ()

    def _page(self, url: str, response: Any, groups: tuple[str, ...], known: Any) -> tuple[str, ...]:
        ctx = self.ctx
        ctype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        ext = self._extension(url, ctype)
        if ext is None:
            ctx.skip()
            return ()
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > ctx.cap_bytes:
            ctx.fail(url, too_large(int(length), ctx.cap_bytes))
            return ()
        name = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] if relative_path(url) else "index"
        stem = name.rsplit(".", 1)[0] if "." in name else name
        dest = ctx.stage(url, f"{stem or 'index'}{ext}")
        ctx.write(response.iter_bytes(1 << 16), dest, url)
        token = _token(response.headers)
        links: tuple[str, ...] = ()
        if ext == ".html":
            found = page_links(dest.read_bytes(), url)
            links = found.links
            self._store_links(url, token, links)
            if found.noindex or not self._included(url):
                dest.unlink(missing_ok=True)
                ctx.skip()
                if known is not None:
                    ctx.gone(url)  # noindex now, or no longer included: out of the store
                return links
        if not self._included(url):
            dest.unlink(missing_ok=True)
            ctx.skip()
            return links
        ctx.downloaded(url, self._display(url), self._root(url), dest, token, _modified(response.headers), groups)
        return links

    def _status(self, url: str, status: int, referrer: str, known: Any) -> None:
        ctx = self.ctx
        where = f" (linked from {referrer})" if referrer and referrer != "sitemap" else (" (in the sitemap)" if referrer else "")
        if status in (404, 410):
            if known is not None:
                ctx.gone(url)
            else:
                ctx.fail(url, f"HTTP {status}: the page does not exist{where}; fix or remove the link")
        elif status in (401, 403):
            ctx.fail(url, f"HTTP {status}: not allowed to read it; set username/password_env or token_env for this source, or exclude it")
        elif status == 429 or status >= 500:
            self.complete = False
            ctx.fail(url, f"HTTP {status} from the server: retried on the next run")
        else:
            ctx.fail(url, f"HTTP {status}{where}: the page could not be read")

    def _extension(self, url: str, ctype: str) -> str | None:
        """The file extension the loaders get: from the content type, else the URL; None: not a document."""
        if ctype in CONTENT_TYPES:
            return CONTENT_TYPES[ctype]
        from ingest.remote.urls import extension

        ext = extension(url)
        if ext in self.document_types and ext not in (".html", ".htm", ".xhtml"):
            return ext
        guessed = mimetypes.guess_extension(ctype) if ctype else None
        if guessed and guessed.lower() in self.document_types:
            return guessed.lower()
        return None

    def _display(self, url: str) -> str:
        rel = relative_path(url) or "index"
        return f"{self.source.name}/{site_of(url)}/{rel}" if len(self.source.sites) > 1 else f"{self.source.name}/{rel}"

    @staticmethod
    def _root(url: str) -> str:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}/"

    # -- links of unchanged pages ----------------------------------------------------------------
    def _store_links(self, url: str, token: str, links: tuple[str, ...]) -> None:
        self.ctx.manifest.db.execute("INSERT OR REPLACE INTO web_links VALUES (?,?,?)", (url, token, json.dumps(list(links))))

    def _stored_links(self, url: str, token: str) -> tuple[str, ...] | None:
        row = self.ctx.manifest.db.execute("SELECT token, links FROM web_links WHERE url=?", (url,)).fetchone()
        if row is None or row[0] != token:
            return None
        return tuple(json.loads(row[1]))


def _validators(token: str) -> dict[str, str]:
    headers = {}
    for line in token.splitlines():
        key, _, value = line.partition(":")
        if key == "etag" and value:
            headers["If-None-Match"] = value
        elif key == "modified" and value:
            headers["If-Modified-Since"] = value
    return headers


def _token(headers: Any) -> str:
    """The page's change token: its validators (empty when the server sends none: then the content hash decides)."""
    parts = []
    if headers.get("etag"):
        parts.append(f"etag:{headers['etag']}")
    if headers.get("last-modified"):
        parts.append(f"modified:{headers['last-modified']}")
    return "\n".join(parts)


def _modified(headers: Any) -> float:
    try:
        return parsedate_to_datetime(headers["last-modified"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return time.time()


def _read_capped(response: Any, cap: int) -> bytes:
    data = bytearray()
    for chunk in response.iter_bytes(1 << 16):
        data += chunk
        if len(data) > cap:
            raise DownloadError(f"larger than {cap / 2**20:g} MB")
    return bytes(data)


def _reason(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {' '.join(str(exc).split())[:160]}" if str(exc) else exc.__class__.__name__


def _note(source: WebSource, text: str) -> Any:
    from retrieval.schema import FileFailure

    return FileFailure(source.location, text)
