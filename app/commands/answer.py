"""`lore ask`, `lore search` (single and batch forms) and `lore chat` (interactive, streaming)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from app.cli import Context
from retrieval.errors import InputError, LoreError
from retrieval.schema import Answer, ChatMessage, ScoredChunk


def register(sub, common) -> None:
    ask = sub.add_parser("ask", parents=[common], help="answer a question from the documents, with citations")
    ask.add_argument("question", nargs="?", help="the question (or use --questions FILE.jsonl)")
    ask.add_argument("--questions", metavar="FILE.jsonl", help='batch: one {"id","text"[,"groups"]} per line; one JSON result per line')
    ask.add_argument("--details", action="store_true",
                     help="add how each answer was made: answer_type, checked, refusal_reason, stopped (beyond the JSON contract)")
    _identity_flags(ask)
    ask.set_defaults(func=run_ask, overrides=_overrides)

    search = sub.add_parser("search", parents=[common], help="show the chunks retrieved for a query")
    search.add_argument("query", nargs="?", help="the query (or use --queries FILE.jsonl)")
    search.add_argument("--queries", metavar="FILE.jsonl", help='batch: one {"id","text"[,"groups"]} per line; one JSON result per line')
    _identity_flags(search)
    search.set_defaults(func=run_search, overrides=_overrides)

    chat = sub.add_parser("chat", parents=[common], help="interactive chat in the terminal (follow-up questions work)")
    _identity_flags(chat)
    chat.set_defaults(func=run_chat, overrides=_overrides)


def _identity_flags(parser) -> None:
    parser.add_argument("--user", default=None, help="who is asking (recorded in the interaction log; a known user's groups apply)")
    parser.add_argument("--groups", default=None, help="comma-separated groups to read as (default: the user's, else ingest.default_groups)")
    parser.add_argument("--top-k", type=int, default=None, help="chunks to retrieve (default: retrieval.top_k)")


def _overrides(args) -> dict[str, Any]:
    return {"retrieval.top_k": args.top_k}


# ---- who is asking --------------------------------------------------------------------------------


def resolve_identity(ctx: Context) -> tuple[str, list[str]]:
    """--groups wins; else a known user's groups (users file); else the default group."""
    user = ctx.args.user or "anonymous"
    if ctx.args.groups is not None:
        groups = [g.strip() for g in ctx.args.groups.split(",") if g.strip()]
        if not groups:
            raise InputError("--groups is empty: give at least one group, e.g. --groups all-staff")
        return user, groups
    known = _user_groups(ctx.settings.users_path, user) if ctx.args.user else None
    return user, known if known is not None else list(ctx.settings.ingest.default_groups)


def _user_groups(path: Path, user: str) -> list[str] | None:
    """The groups of `user` in the users file (`lore users`), or None when the user is unknown."""
    from app.auth import UsersFile

    try:
        record = UsersFile(path).load().get(user)
    except LoreError:
        return None
    return list(record.groups) if record is not None and record.groups else None


def _assistant(ctx: Context):
    from retrieval.assistant import build_assistant

    return build_assistant(ctx.settings)


# ---- batch input ----------------------------------------------------------------------------------


def read_batch(path: str):
    """(line_no, item or error message) for each non-blank line of a JSONL file."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{path} not found: give a JSONL file with one {{\"id\", \"text\"}} object per line")
    with file.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"line {number} is not JSON ({exc.msg}): fix the line"
                continue
            if not isinstance(item, dict) or not str(item.get("text", item.get("question", ""))).strip():
                yield number, f'line {number} has no "text": give {{"id", "text"}}'
                continue
            groups = item.get("groups")
            if groups is not None and not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
                yield number, f'line {number}: "groups" must be a list of strings'
                continue
            yield number, item


def _batch(ctx: Context, path: str, one) -> int:
    default_user, default_groups = resolve_identity(ctx)
    failures = 0
    for number, item in read_batch(path):
        if isinstance(item, str):
            failures += 1
            _line(ctx, {"id": None, "line": number, "error": item})
            continue
        item_id = item.get("id", number)
        text = str(item.get("text", item.get("question", "")))
        groups = item["groups"] if item.get("groups") is not None else default_groups
        try:
            doc = one(text, groups, default_user)
        except LoreError as exc:
            failures += 1
            doc = {"error": " ".join(str(exc).split())}
        _line(ctx, {"id": item_id, **doc})
    if failures:
        ctx.info(f"{failures} line(s) failed (see their \"error\")")
    return 0


def _line(ctx: Context, doc: dict[str, Any]) -> None:
    """Batch output is JSON lines with or without --json: jobs read it."""
    ctx.out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
    ctx.out.flush()


# ---- ask ------------------------------------------------------------------------------------------


def run_ask(ctx: Context) -> int:
    assistant = _assistant(ctx)
    top_k, details = ctx.args.top_k, ctx.args.details
    if ctx.args.questions:
        assistant.warm_up()  # models load once, before the first line's clock starts
        return _batch(ctx, ctx.args.questions, lambda text, groups, user: assistant.ask(
            text, user=user, groups=groups, top_k=top_k, channel="batch"
        ).to_json(details=details))
    if not ctx.args.question:
        raise InputError('give a question: lore ask "QUESTION" (or --questions FILE.jsonl)')
    user, groups = resolve_identity(ctx)
    if ctx.json:
        answer = assistant.ask(ctx.args.question, user=user, groups=groups, top_k=top_k)
        ctx.emit(answer.to_json(details=details))
        return 0
    streamed: list[str] = []
    progress = (lambda status: ctx.err.write(f"\r\033[K… {status}")) if ctx.err.isatty() else None

    out = _writer(streamed)

    def write(text: str) -> None:
        if progress is not None:
            ctx.err.write("\r\033[K")  # the status line gives way to the answer
        out(text)

    answer = assistant.ask(ctx.args.question, user=user, groups=groups, top_k=top_k, on_token=write, on_progress=progress)
    ctx.out.write("\n" + render_after_stream(answer, "".join(streamed)))
    ctx.out.flush()
    return 0


def _writer(streamed: list[str]):
    def write(text: str) -> None:
        streamed.append(text)
        sys.stdout.write(text)
        sys.stdout.flush()

    return write


def render_after_stream(answer: Answer, streamed: str) -> str:
    """What follows the streamed tokens: the fixed refusal when the reply turned into one, else the sources."""
    if answer.refused:
        return "" if streamed.strip() == answer.answer else f"\n{answer.answer}\n"
    return render_citations(answer)


def render_citations(answer: Answer) -> str:
    if answer.refused or not answer.citations:
        return ""
    lines = ["", "Sources:"]
    for n, c in enumerate(answer.citations, start=1):
        where = f", {_page_label(c.page)}" if c.page is not None else ""
        section = f" — {c.section}" if c.section else ""
        lines.append(f"  [{n}] {c.source}{where}{section}")
    return "\n".join(lines) + "\n"


def _page_label(page: Any) -> str:
    return f"page {page}" if isinstance(page, int) else f"{page}"


# ---- search ---------------------------------------------------------------------------------------


def search_json(results: list[ScoredChunk]) -> dict[str, Any]:
    return {
        "results": [
            {"id": s.chunk.id, "source": s.chunk.source, "page": s.chunk.page, "score": round(s.score, 4), "text": s.chunk.text}
            for s in results
        ]
    }


def run_search(ctx: Context) -> int:
    assistant = _assistant(ctx)
    top_k = ctx.args.top_k
    if ctx.args.queries:
        assistant.embedder.warm_up()
        assistant.store.count()
        return _batch(ctx, ctx.args.queries, lambda text, groups, user: search_json(assistant.search(text, groups=groups, top_k=top_k)))
    if not ctx.args.query:
        raise InputError('give a query: lore search "QUERY" (or --queries FILE.jsonl)')
    _, groups = resolve_identity(ctx)
    results = assistant.search(ctx.args.query, groups=groups, top_k=top_k)
    lines = [
        f"{n}. {s.chunk.source}{f' ({_page_label(s.chunk.page)})' if s.chunk.page is not None else ''}  score {s.score:.4f}\n   "
        + " ".join(s.chunk.text.split())[:240]
        for n, s in enumerate(results, start=1)
    ]
    ctx.emit(search_json(results), "\n".join(lines) or "no results")
    return 0


# ---- chat -----------------------------------------------------------------------------------------


def run_chat(ctx: Context) -> int:
    assistant = _assistant(ctx)
    user, groups = resolve_identity(ctx)
    conversation = uuid.uuid4().hex
    history: list[ChatMessage] = []
    streamed: list[str] = []
    if not ctx.json:
        ctx.info(f"Lore chat as {user} ({', '.join(groups)}). Ask a question; /reset starts over, /exit or Ctrl-D quits.")
        ctx.info("loading the models…")
    assistant.warm_up()
    while True:
        try:
            line = input("" if ctx.json else "\nyou> ")
        except EOFError:
            break
        question = line.strip()
        if not question:
            continue
        if question in ("/exit", "/quit"):
            break
        if question == "/reset":
            history, conversation = [], uuid.uuid4().hex
            continue
        if not ctx.json:
            ctx.out.write("lore> ")
        try:
            answer = assistant.ask(
                question, user=user, groups=groups, history=history, top_k=ctx.args.top_k,
                conversation_id=conversation, channel="chat", on_token=None if ctx.json else _writer(streamed := []),
            )
        except InputError as exc:
            ctx.info(f"lore: {exc}")
            continue
        if ctx.json:
            ctx.emit({**answer.to_json(), "query": answer.query})
        else:
            ctx.out.write("\n" + render_after_stream(answer, "".join(streamed)))
            ctx.out.flush()
        history += [ChatMessage("user", question), ChatMessage("assistant", answer.answer)]
    return 0
