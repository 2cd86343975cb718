"""An IMAP mailbox as a source: every message is a document (`.eml`, read by the e-mail loader) and
so is each of its attachments (under its own file name, read by that type's loader).

    - name: support-mail
      kind: imap
      host: mail.example.com             # port 993 with TLS by default; ssl: false + starttls: true for 143
      user: lore-archive                 # or user_env
      password_env: LORE_IMAP_PASSWORD   # or password_file
      folders:                           # folder globs → groups; the first match wins; null: the source's groups
        INBOX: [support]
        "Shared/HR*": [hr]

A message's identity is its folder, UIDVALIDITY and UID (`imap://user@host:993/INBOX/<uidvalidity>/<uid>`):
IMAP never changes a message under a UID, so a known UID is never downloaded again; a message gone
from the folder (expunged, moved) or a folder whose UIDVALIDITY changed is deleted from the store.
Messages flagged \\Deleted but not yet expunged count as gone. The mailbox is only read (EXAMINE, BODY.PEEK).
"""

from __future__ import annotations

import email
import email.policy
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ingest.acl import parse_groups
from ingest.globs import glob_match
from ingest.remote.base import Collection, DownloadError, RemoteSource, SourceUnavailable, safe_file_name, too_large
from ingest.remote.credentials import SecretRef
from retrieval.errors import ConfigError, InputError

FETCH_BATCH = 200  # UIDs per FETCH of sizes and headers
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')


@dataclass(frozen=True)
class ImapSource(RemoteSource):
    kind = "imap"
    keys = frozenset({"host", "port", "ssl", "starttls", "user", "user_env", "password_env", "password_file", "folders", "attachments",
                      "verify_tls", "ca_bundle"})  # fmt: skip

    host: str = ""
    port: int = 993
    ssl: bool = True
    starttls: bool = False
    user: str = ""
    user_ref: SecretRef | None = None
    password: SecretRef | None = None
    folders: tuple[tuple[str, tuple[str, ...] | None], ...] = (("INBOX", None),)
    attachments: bool = True
    verify_tls: bool = True
    ca_bundle: str = ""

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], base: Path, where: str) -> ImapSource:
        options = cls.common(spec, base, where, cls.keys)
        name = options["name"]
        who = f"{where} source {name!r}"
        if "include" in spec or "exclude" in spec:
            raise ConfigError(f"{where}: IMAP source {name!r}: choose what to read with `folders` (folder names or globs), not include/exclude")
        host = spec.get("host")
        if not isinstance(host, str) or not host.strip():
            raise ConfigError(f"{where}: IMAP source {name!r} needs a `host`")
        use_ssl = bool(spec.get("ssl", True))
        port = spec.get("port", 993 if use_ssl else 143)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ConfigError(f"{where}: IMAP source {name!r}: port must be a number from 1 to 65535")
        user = spec.get("user", "")
        user_ref = None
        if "user_env" in spec:
            user_ref = SecretRef(field="user", env=str(spec["user_env"]))
        elif not isinstance(user, str) or not user:
            raise ConfigError(f"{where}: IMAP source {name!r} needs a `user` (or user_env)")
        password = SecretRef.from_spec(spec, "password", who)
        if password is None:
            raise ConfigError(f"{where}: IMAP source {name!r} needs password_env (or password_file): the environment variable or file holding the password")
        folders_spec = spec.get("folders", {"INBOX": None})
        if isinstance(folders_spec, str):
            folders_spec = [folders_spec]
        if isinstance(folders_spec, list):
            folders_spec = {str(f): None for f in folders_spec}
        if not isinstance(folders_spec, Mapping) or not folders_spec:
            raise ConfigError(f"{where}: IMAP source {name!r}: folders must map folder names (or globs) to groups")
        folders = tuple(
            (str(folder), parse_groups(groups, f"{who} folder {folder!r}") if groups is not None else None) for folder, groups in folders_spec.items()
        )
        return cls(
            **options, host=host.strip(), port=port, ssl=use_ssl, starttls=bool(spec.get("starttls", False)), user=str(user or ""),
            user_ref=user_ref, password=password, folders=folders, attachments=bool(spec.get("attachments", True)),
            verify_tls=bool(spec.get("verify_tls", True)), ca_bundle=str(spec.get("ca_bundle", "") or ""),
        )  # fmt: skip

    @property
    def location(self) -> str:
        user = self.user or (f"${self.user_ref.env}" if self.user_ref else "")
        return f"imap://{quote(user, safe='$')}@{self.host}:{self.port}/"

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "host": self.host, "port": self.port, "ssl": self.ssl, "starttls": self.starttls, "user": self.user,
               "folders": {f: list(g) if g is not None else None for f, g in self.folders}, "attachments": self.attachments}  # fmt: skip
        for ref in (self.user_ref, self.password):
            if ref is not None:
                out.update(ref.describe())
        return out

    def collect(self, ctx: Collection) -> None:
        Mailbox(self, ctx).run()


class Mailbox:
    """One pass over the configured folders of an IMAP account (read only)."""

    def __init__(self, source: ImapSource, ctx: Collection):
        self.source = source
        self.ctx = ctx
        self.user = source.user_ref.read() if source.user_ref is not None else source.user
        self.base = f"imap://{quote(self.user, safe='')}@{source.host}:{source.port}/"
        self.imap: Any = None

    def run(self) -> None:
        self.imap = self._connect()
        try:
            for folder, shown, groups in self._folders():
                self._folder(folder, shown, groups)
        finally:
            try:
                self.imap.logout()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass

    def _connect(self) -> Any:
        import imaplib

        source = self.source
        where = f"{source.host}:{source.port}"
        context = None
        if source.ssl or source.starttls:
            context = ssl.create_default_context(cafile=source.ca_bundle or None)
            if not source.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        try:
            if source.ssl:
                imap = imaplib.IMAP4_SSL(source.host, source.port, ssl_context=context, timeout=source.timeout_s)
            else:
                imap = imaplib.IMAP4(source.host, source.port, timeout=source.timeout_s)
                if source.starttls:
                    imap.starttls(ssl_context=context)
        except ssl.SSLError as exc:
            raise SourceUnavailable(f"source {source.name!r}: TLS to {where} failed ({exc.reason}): set ssl/starttls to what the server speaks, "
                                    "or ca_bundle to your CA file") from exc  # fmt: skip
        except (OSError, imaplib.IMAP4.error) as exc:
            raise SourceUnavailable(f"source {source.name!r}: cannot reach the IMAP server {where} ({exc.__class__.__name__}: {exc}): "
                                    "check host, port and ssl") from exc  # fmt: skip
        try:
            imap.login(self.user, source.password.read() if source.password else "")
        except imaplib.IMAP4.error as exc:
            raise SourceUnavailable(f"source {source.name!r}: the IMAP server refused the login of {self.user!r}: "
                                    f"check the password in {source.password.origin if source.password else 'password_env'}") from exc  # fmt: skip
        except InputError as exc:
            raise SourceUnavailable(f"source {source.name!r}: {exc}") from exc
        return imap

    def _folders(self) -> list[tuple[bytes, str, tuple[str, ...] | None]]:
        """(encoded name to EXAMINE, name as people read it with '/' between levels, groups) per folder read."""
        status, lines = self.imap.list()
        if status != "OK":
            raise SourceUnavailable(f"source {self.source.name!r}: the IMAP server did not list the folders ({status}): run again")
        available: list[tuple[bytes, str]] = []
        for line in lines:
            parsed = parse_list_line(line)
            if parsed is None or "\\noselect" in parsed[0].lower() or "\\nonexistent" in parsed[0].lower():
                continue
            _flags, delimiter, raw = parsed
            shown = decode_folder_name(raw)
            available.append((raw, shown.replace(delimiter, "/") if delimiter else shown))
        chosen: list[tuple[bytes, str, tuple[str, ...] | None]] = []
        taken: set[str] = set()
        for pattern, _groups in self.source.folders:
            matched = [(raw, shown) for raw, shown in available if _folder_match(pattern, shown)]
            if not matched:
                self.ctx.fail_source(f"source {self.source.name!r}: no folder matches {pattern!r}: check `folders` in sources.yaml "
                                     f"(the server has: {', '.join(s for _r, s in available[:20])})")  # fmt: skip
        for raw, shown in available:
            for pattern, groups in self.source.folders:  # the first pattern that matches decides the groups
                if _folder_match(pattern, shown):
                    if shown not in taken:
                        taken.add(shown)
                        chosen.append((raw, shown, groups))
                    break
        return chosen

    def _folder(self, raw: bytes, shown: str, groups: tuple[str, ...] | None) -> None:
        import imaplib

        ctx = self.ctx
        root = f"{self.base}{quote(shown, safe='/')}/"
        try:
            status, _ = self.imap.select(_quote_mailbox(raw), readonly=True)
            if status != "OK":
                raise imaplib.IMAP4.error(f"EXAMINE answered {status}")
            validity = int(self.imap.response("UIDVALIDITY")[1][0])
            status, data = self.imap.uid("SEARCH", "UNDELETED")
            if status != "OK":
                raise imaplib.IMAP4.error(f"UID SEARCH answered {status}")
            uids = [int(u) for u in (data[0] or b"").split()]
        except (imaplib.IMAP4.error, OSError, ValueError, TypeError, IndexError) as exc:
            ctx.fail_source(f"source {self.source.name!r}: folder {shown!r} could not be read ({exc}): check its permissions (nothing in it was deleted)")
            return
        groups = groups if groups is not None else ctx.groups_for(shown)
        todo: list[int] = []
        for uid in uids:
            path, token = f"{root}{validity}/{uid}", f"{validity}:{uid}"
            row = ctx.current(path, token, groups)
            parts = ctx.manifest.rows_under(path + "/") if row is not None else []  # its attachments, as the manifest has them
            if row is None or any(ctx.current(part.path, token, groups) is None for part in parts):
                todo.append(uid)
                continue
            for known in (row, *parts):
                ctx.unchanged(known.path, known.source, root, known)
        complete = True
        for start in range(0, len(todo), FETCH_BATCH):
            batch = sorted(set(todo[start : start + FETCH_BATCH]))
            try:
                sizes = self._sizes(batch)
                for uid in batch:
                    self._message(root, shown, validity, uid, sizes.get(uid), groups)
            except (imaplib.IMAP4.error, OSError) as exc:
                ctx.fail_source(f"source {self.source.name!r}: reading folder {shown!r} failed ({exc.__class__.__name__}: {exc}): run again")
                complete = False
                break
        if complete:
            ctx.scope(root)

    def _sizes(self, uids: list[int]) -> dict[int, int]:
        status, data = self.imap.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
        if status != "OK":
            raise OSError(f"UID FETCH RFC822.SIZE answered {status}")
        sizes: dict[int, int] = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = re.search(rb"UID (\d+)", line), re.search(rb"RFC822\.SIZE (\d+)", line)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    def _message(self, root: str, folder: str, validity: int, uid: int, size: int | None, groups: tuple[str, ...]) -> None:
        ctx = self.ctx
        path = f"{root}{validity}/{uid}"
        token = f"{validity}:{uid}"
        if size is None:
            return  # expunged since the search
        if size > ctx.cap_bytes:
            ctx.fail(path, too_large(size, ctx.cap_bytes))
            return
        status, data = self.imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
        if status != "OK":
            ctx.fail(path, f"the server did not send the message (FETCH answered {status}): retried on the next run")
            return
        raw = next((item[1] for item in data if isinstance(item, tuple) and len(item) == 2), None)
        if raw is None:
            return  # expunged since the search
        message = email.message_from_bytes(raw, policy=email.policy.default)
        subject = " ".join(str(message.get("subject", "") or "").split())
        stem = safe_file_name(f"{uid} {subject}"[:80], default=str(uid))
        display = f"{self.source.name}/{folder}/{stem}.eml"
        dest = ctx.stage(path, f"{stem}.eml")
        dest.write_bytes(raw)
        modified = _date(message)
        ctx.downloaded(path, display, root, dest, token, modified, groups)
        if self.source.attachments:
            self._attachments(message, root, path, f"{self.source.name}/{folder}/{stem}", token, modified, groups)

    def _attachments(self, message: Any, root: str, path: str, display: str, token: str, modified: float, groups: tuple[str, ...]) -> None:
        from ingest.loaders import SUPPORTED

        ctx = self.ctx
        for index, part in enumerate(message.iter_attachments(), start=1):
            filename = part.get_filename() or ""
            if not filename and part.get_content_type() == "message/rfc822":
                filename = "attached-message.eml"
            name = safe_file_name(filename, default=f"attachment-{index}")
            ext = Path(name).suffix.lower()
            if ext not in SUPPORTED:
                ctx.skip()  # signatures, calendar invites, archives: not a document Lore reads
                continue
            item = f"{path}/{index}/{name}"
            try:
                payload = part.get_payload(decode=True)
                if payload is None:  # message/rfc822: the attached message itself
                    inner = part.get_payload()
                    payload = (inner[0] if isinstance(inner, list) else inner).as_bytes()
                if len(payload) > ctx.cap_bytes:
                    raise DownloadError(too_large(len(payload), ctx.cap_bytes))
            except DownloadError as exc:
                ctx.fail(item, str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - a malformed MIME part fails alone
                ctx.fail(item, f"corrupt attachment ({exc.__class__.__name__}): it could not be decoded")
                continue
            dest = ctx.stage(item, name)
            dest.write_bytes(payload)
            ctx.downloaded(item, f"{display}/{name}", root, dest, token, modified, groups)


def parse_list_line(line: Any) -> tuple[str, str, bytes] | None:
    """`(\\HasNoChildren) "." "INBOX.Sent"` → (flags, delimiter, raw name). Literals come as tuples."""
    if isinstance(line, tuple):  # a name sent as a literal: (b'(flags) "." {12}', b'name')
        head, name = line[0], line[1]
        match = _LIST_LINE.match(head.rsplit(b" ", 1)[0] + b" x")
        if not match:
            return None
        raw = name
    else:
        if not isinstance(line, bytes):
            return None
        match = _LIST_LINE.match(line)
        if not match:
            return None
        raw = match.group("name").strip()
        if raw.startswith(b'"') and raw.endswith(b'"'):
            raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
    delim = match.group("delim")
    delimiter = "" if delim == b"NIL" else re.sub(rb"\\(.)", rb"\1", delim[1:-1]).decode("ascii", "replace")
    return match.group("flags").decode("ascii", "replace"), delimiter, raw


def decode_folder_name(raw: bytes) -> str:
    """IMAP's modified UTF-7 (RFC 3501 5.1.3): `&AMQ-` → `Ä`, `&-` → `&`."""
    import base64

    out: list[str] = []
    text = raw.decode("ascii", "replace")
    i = 0
    while i < len(text):
        if text[i] == "&":
            end = text.find("-", i)
            if end == -1:
                out.append(text[i:])
                break
            chunk = text[i + 1 : end]
            if not chunk:
                out.append("&")
            else:
                data = chunk.replace(",", "/")
                data += "=" * (-len(data) % 4)
                try:
                    out.append(base64.b64decode(data).decode("utf-16-be"))
                except (ValueError, UnicodeDecodeError):
                    out.append(text[i : end + 1])
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def encode_folder_name(name: str) -> bytes:
    """The inverse of `decode_folder_name`."""
    import base64

    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{data}-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out).encode("ascii")


def _quote_mailbox(raw: bytes) -> str:
    name = raw.decode("ascii", "replace")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folder_match(pattern: str, folder: str) -> bool:
    """Folder globs: `*` stays on one level, `**` crosses levels; INBOX matches in any case (RFC 3501)."""
    if pattern.upper() == "INBOX" or folder.upper() == "INBOX":
        return pattern.upper() == folder.upper()
    return glob_match("/" + pattern.lstrip("/"), folder)


def _date(message: Any) -> float:
    try:
        return parsedate_to_datetime(str(message["date"])).timestamp()
    except (TypeError, ValueError, IndexError):
        return 0.0
