"""The rules of a polite crawl, as pure functions: URL normalisation, same-site checks, which links
are worth fetching, robots.txt (RFC 9309: groups, longest match, `*` and `$`), links and meta robots
out of HTML, and sitemaps (urlset and sitemapindex, gzip)."""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

AGENT = "LoreBot"  # the product token robots.txt groups are matched against
PAGE_EXTENSIONS = {"", ".html", ".htm", ".xhtml", ".shtml", ".php", ".asp", ".aspx", ".jsp", ".cgi", ".cfm"}
_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalise_escapes(text: str, safe: str) -> str:
    """Upper-case percent escapes, decode the ones of unreserved characters, escape what must be."""
    text = _PCT.sub(lambda m: chr(int(m.group(1), 16)) if chr(int(m.group(1), 16)) in _UNRESERVED else "%" + m.group(1).upper(), text)
    return quote(text, safe=safe + "%")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4: `/a/./b/../c` → `/a/c` (a trailing slash kept)."""
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
            continue
        if segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
            continue
        out.append(segment)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def normalise_url(url: str, base: str | None = None) -> str | None:
    """The one spelling of a URL used as a document's identity: http(s) only, scheme and host lower
    case, default port, user info and fragment dropped, dot segments resolved, escapes normalised.
    None for anything that is not an http(s) URL with a host."""
    url = url.strip()
    if not url:
        return None
    try:
        if base is not None:
            url = urljoin(base, url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ("http", "https") or not host:
        return None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, {"http": 80, "https": 443}[scheme]) else f"{host}:{port}"
    path = _normalise_escapes(_remove_dot_segments(parts.path or "/"), safe="/:@!$&'()*+,;=")
    query = _normalise_escapes(parts.query, safe="/?:@!$&'()*+,;=")
    return urlunsplit((scheme, netloc, path, query, ""))


def site_of(url: str) -> str:
    """The host (and non-default port) a URL belongs to: http and https of one host are one site."""
    return urlsplit(url).netloc


def same_site(url: str, sites: set[str] | frozenset[str]) -> bool:
    return site_of(url) in sites


def relative_path(url: str) -> str:
    """The URL below its host, without the leading slash: what include/exclude globs and ACL rules match."""
    parts = urlsplit(url)
    rel = parts.path.lstrip("/")
    return f"{rel}?{parts.query}" if parts.query else rel


def extension(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).suffix.lower()


def worth_fetching(url: str, document_types: set[str] | frozenset[str]) -> bool:
    """Pages (no extension or a page script's) and files of a type the loaders read; not CSS, JS, archives."""
    ext = extension(url)
    return ext in PAGE_EXTENSIONS or ext in document_types


# -- robots.txt ------------------------------------------------------------------------------------
@dataclass
class Robots:
    """The rules of one site's robots.txt for our product token (RFC 9309)."""

    rules: list[tuple[bool, str]] = field(default_factory=list)  # (allow, pattern)
    crawl_delay: float | None = None
    sitemaps: list[str] = field(default_factory=list)
    disallow_all: bool = False

    @classmethod
    def allow_everything(cls) -> Robots:
        return cls()

    @classmethod
    def forbid_everything(cls) -> Robots:
        return cls(disallow_all=True)

    @classmethod
    def parse(cls, text: str, agent: str = AGENT) -> Robots:
        agent = agent.lower()
        groups: list[dict] = []
        current: dict | None = None
        sitemaps: list[str] = []
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if ":" not in line:
                continue
            key, value = (part.strip() for part in line.split(":", 1))
            key = key.lower()
            if key == "user-agent":
                if current is None or current["closed"]:
                    current = {"agents": set(), "rules": [], "delay": None, "closed": False}
                    groups.append(current)
                current["agents"].add(value.lower())
            elif key in ("allow", "disallow") and current is not None:
                current["closed"] = True
                if value:
                    current["rules"].append((key == "allow", value))
            elif key == "crawl-delay" and current is not None:
                current["closed"] = True
                try:
                    current["delay"] = float(value)
                except ValueError:
                    pass
            elif key == "sitemap" and value:
                sitemaps.append(value)
        mine = [g for g in groups if agent in g["agents"]] or [g for g in groups if "*" in g["agents"]]
        rules = [rule for g in mine for rule in g["rules"]]
        delay = next((g["delay"] for g in mine if g["delay"] is not None), None)
        return cls(rules=rules, crawl_delay=delay, sitemaps=sitemaps)

    def allowed(self, url: str) -> bool:
        if self.disallow_all:
            return False
        parts = urlsplit(url)
        target = _normalise_escapes(parts.path or "/", safe="/:@!$&'()*+,;=") + (f"?{parts.query}" if parts.query else "")
        if target == "/robots.txt":
            return True
        best: tuple[int, bool] | None = None
        for allow, pattern in self.rules:
            if _robots_pattern(pattern).match(target):
                key = (len(pattern), allow)  # the longest pattern wins; on a tie, allow
                if best is None or key > best:
                    best = key
        return best is None or best[1]


@lru_cache(maxsize=4096)
def _robots_pattern(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = _normalise_escapes(pattern[:-1] if anchored else pattern, safe="/:@!$&'()*+,;=?*")
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.compile(regex + (r"\Z" if anchored else ""))


# -- HTML and sitemaps -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PageLinks:
    links: tuple[str, ...]  # normalised absolute URLs, in page order, without duplicates
    noindex: bool = False  # <meta name="robots" content="noindex">: not a document
    nofollow: bool = False  # … content="nofollow": its links are not followed


def page_links(html: bytes, url: str, agent: str = AGENT) -> PageLinks:
    """`<a href>` and `<area href>` links (`<base href>` honoured, `rel=nofollow` skipped) and meta robots."""
    import lxml.html

    if not html.strip():
        return PageLinks(())
    try:
        doc = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return PageLinks(())
    base = url
    for element in doc.iter("base"):
        if element.get("href"):
            base = urljoin(url, element.get("href").strip())
            break
    noindex = nofollow = False
    for meta in doc.iter("meta"):
        name = (meta.get("name") or "").strip().lower()
        if name in ("robots", agent.lower()):
            tokens = {t.strip() for t in (meta.get("content") or "").lower().split(",")}
            noindex |= bool(tokens & {"noindex", "none"})
            nofollow |= bool(tokens & {"nofollow", "none"})
    links: dict[str, None] = {}
    if not nofollow:
        for element in doc.iter("a", "area"):
            href = element.get("href")
            if not href or "nofollow" in (element.get("rel") or "").lower().split():
                continue
            target = normalise_url(href, base)
            if target is not None:
                links[target] = None
    return PageLinks(tuple(links), noindex, nofollow)


@dataclass(frozen=True)
class Sitemap:
    pages: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()  # a sitemap index lists further sitemaps


def parse_sitemap(data: bytes, limit_bytes: int) -> Sitemap:
    """A sitemap (`<urlset>`) or sitemap index, gzip-compressed or not; no entities, no network."""
    from lxml import etree

    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
            data = unzipped.read(limit_bytes + 1)
        if len(data) > limit_bytes:
            raise ValueError(f"sitemap expands past {limit_bytes / 2**20:g} MB")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    root = etree.fromstring(data, parser=parser)
    name = etree.QName(root).localname
    locs = [(el.text or "").strip() for el in root.iter("{*}loc")]
    locs = [loc for loc in locs if loc]
    if name == "sitemapindex":
        return Sitemap(sitemaps=tuple(locs))
    return Sitemap(pages=tuple(locs))
