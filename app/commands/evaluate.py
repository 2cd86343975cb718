"""`lore score`, `lore eval`, `lore monitor`: faithfulness and friends, on files, golden sets and the log."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from app.cli import Context
from retrieval.errors import InputError

SCORE_CHUNK = 32  # lines scored (and written) together: output streams while long files are scored


def register(sub, common) -> None:
    def judge_flags(parser) -> None:
        parser.add_argument("--judge", choices=["generator", "openai", "fake"], help="judge (setting eval.judge)")
        parser.add_argument("--engine", choices=["auto", "lore", "ragas"], help="metric implementation (setting eval.engine)")
        parser.add_argument("--raise-exceptions", action="store_true", default=None,
                            help="stop at the first judge failure instead of scoring null (setting eval.raise_exceptions)")
        parser.add_argument("--faithfulness", choices=["checker", "judge", "combined"],
                            help="what the faithfulness score is: the trained checker, the LLM judge, or both in one calibrated score "
                                 "(settings eval.faithfulness; eval.monitor_faithfulness for lore monitor)")

    def judge_overrides(args) -> dict:
        key = "eval.monitor_faithfulness" if args.command == "monitor" else "eval.faithfulness"
        return {"eval.judge": args.judge, "eval.engine": args.engine, "eval.raise_exceptions": args.raise_exceptions, key: args.faithfulness}

    score = sub.add_parser("score", parents=[common], help="score answers in a JSONL file (faithfulness and more)")
    score.add_argument("file", type=Path, help='JSONL lines {"id","question","contexts":[...],"answer"}')
    score.add_argument("--out", type=Path, help="write the scored lines here instead of stdout")
    judge_flags(score)
    score.set_defaults(func=score_file, overrides=judge_overrides)

    evaluate = sub.add_parser("eval", parents=[common], help="run the assistant over a golden set and write a report")
    evaluate.add_argument("dataset", type=Path, help="golden JSONL: question, reference_answer, reference_sources, answerable")
    evaluate.add_argument("--report", type=Path, required=True, metavar="DIR", help="report directory")
    evaluate.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE", help="gate: exit 1 when a metric mean is lower")
    evaluate.add_argument("--thresholds", type=Path, metavar="TOML", help="gate on a thresholds file (e.g. eval/thresholds.toml)")
    evaluate.add_argument("--history", type=Path, metavar="FILE", help="run history (default: DIR/history.jsonl)")
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument("--ingest", type=Path, action="append", metavar="PATH", help="ingest PATH first (incremental)")
    evaluate.add_argument("--acl-map", type=Path, metavar="FILE", help="ACL map for --ingest")
    judge_flags(evaluate)
    evaluate.set_defaults(func=run_eval, overrides=judge_overrides)

    monitor = sub.add_parser("monitor", parents=[common], help="score logged interactions not yet scored (continuous faithfulness)")
    monitor.add_argument("--watch", action="store_true", help="keep scoring new interactions until stopped")
    monitor.add_argument("--batch", type=int, help="interactions per pass (setting eval.monitor_batch)")
    monitor.add_argument("--interval", type=float, help="seconds between idle passes with --watch (setting eval.monitor_interval_s)")
    judge_flags(monitor)
    monitor.set_defaults(
        func=run_monitor,
        overrides=lambda a: {**judge_overrides(a), "eval.monitor_batch": a.batch, "eval.monitor_interval_s": a.interval},
    )


def _scorer(ctx: Context, chat_model=None, mode: str | None = None):
    """The scorer for `mode` (default eval.faithfulness): the LLM judge is loaded only when the score
    needs it; a missing checker is a one-line note and a fallback, never a failed run."""
    from eval.checker import load_checker
    from eval.judge import make_judge
    from eval.scorer import Scorer

    mode = mode or ctx.settings.eval.faithfulness
    checker, note = load_checker(ctx.settings, mode)
    if note:
        ctx.info(f"lore {ctx.args.command}: {note}")
    judge = None
    if mode != "checker":
        judge = make_judge(ctx.settings, chat_model=chat_model)
        judge.warm_up()
    return Scorer.from_settings(ctx.settings, judge, checker=checker, mode=mode)


def _summary_line(summary: dict) -> str:
    parts = [f"{summary['items']} scored"]
    for name in ("faithfulness", "answer_relevancy", "citation_validity"):
        doc = summary["metrics"].get(name)
        if doc:
            parts.append(f"{name} mean {doc['mean'] if doc['mean'] is not None else 'n/a'} ({doc['nulls']} null)")
    parts.append(f"judge NaN rate {summary['judge_nan_rate']:.1%}")
    if summary["errors"]:
        parts.append("errors: " + ", ".join(f"{k} ×{v}" for k, v in summary["errors"].items()))
    return "; ".join(parts)


def score_file(ctx: Context) -> int:
    from eval.datasets import read_score_items
    from eval.scorer import summarize

    scorer = _scorer(ctx)
    out = ctx.args.out.open("w", encoding="utf-8") if ctx.args.out else ctx.out
    done = []
    bar = ctx.progress("scoring", unit="answer")
    try:
        chunk = []
        for item in [*read_score_items(ctx.args.file), None]:
            if item is not None:
                chunk.append(item)
            if chunk and (item is None or len(chunk) >= SCORE_CHUNK):
                for source, scored in zip(chunk, scorer.score_many(chunk, on_done=lambda _: bar.update(1))):
                    line = {**source.raw, "id": source.id, "scores": scored.scores}
                    if scored.errors:
                        line["score_errors"] = scored.errors
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    done.append(scored)
                out.flush()
                chunk = []
    finally:
        bar.close()
        if ctx.args.out:
            out.close()
    if not done:
        raise InputError(f"{ctx.args.file} has no lines to score: write one JSON object per line")
    ctx.info("lore score: " + _summary_line(summarize(done)))
    return 0


def run_eval(ctx: Context) -> int:
    from eval.datasets import load_golden
    from eval.gate import Thresholds, check, load_thresholds, parse_fail_under
    from eval.golden import headline, run_golden
    from eval.report import write_report
    from retrieval.assistant import build_assistant

    settings = ctx.settings.model_copy(deep=True)
    settings.models.generator.max_new_tokens = min(settings.models.generator.max_new_tokens, settings.eval.max_new_tokens)
    thresholds = load_thresholds(ctx.args.thresholds) if ctx.args.thresholds else Thresholds()
    thresholds.fail_under.update(parse_fail_under(ctx.args.fail_under))
    items = load_golden(ctx.args.dataset, limit=ctx.args.limit)
    if ctx.args.ingest:
        from ingest.pipeline import Ingestor

        report = Ingestor(settings).run(list(ctx.args.ingest), acl_map=ctx.args.acl_map)
        ctx.info(f"lore eval: ingested {report.files} files ({report.chunks} chunks written, {len(report.failed)} failed)")
    assistant = build_assistant(settings)
    assistant.warm_up()
    ctx.settings = settings
    scorer = _scorer(ctx, chat_model=assistant.chat_model)
    answering = ctx.progress("answering", total=len(items), unit="question")
    scoring = ctx.progress("scoring", total=len(items), unit="answer")
    results, summary = run_golden(
        assistant, items, scorer, default_groups=settings.ingest.default_groups,
        on_answer=lambda _: answering.update(1), on_scored=lambda _: scoring.update(1),
    )
    answering.close()
    scoring.close()
    summary["dataset"] = str(ctx.args.dataset)
    failures = check(headline(summary), thresholds)
    paths = write_report(ctx.args.report, results, summary, failures, history_file=ctx.args.history)
    values = headline(summary)
    doc = {
        "report": str(paths["report.html"]),
        "items": summary["items"],
        "faithfulness": values.get("faithfulness"),
        "refusal_accuracy": values.get("refusal_accuracy"),
        "judge_nan_rate": summary["judge_nan_rate"],
        "passed": not failures,
        "failures": failures,
    }
    text = f"{summary['items']} questions · faithfulness {values.get('faithfulness')} · refusal accuracy {values.get('refusal_accuracy')} · " \
           f"judge NaN rate {summary['judge_nan_rate']:.1%}\nreport: {paths['report.html']}"
    ctx.emit(doc, text)
    for failure in failures:
        ctx.info(f"lore eval: gate failed: {failure}")
    return 1 if failures else 0


def run_monitor(ctx: Context) -> int:
    from eval.monitor import Monitor, monitor_lock
    from retrieval.interactions import InteractionLog

    cfg = ctx.settings.eval
    ctx.settings.home.mkdir(parents=True, exist_ok=True)
    lock = monitor_lock(ctx.settings.home / "monitor.lock")
    if cfg.monitor_nice and hasattr(os, "nice"):
        os.nice(cfg.monitor_nice)  # judging is background work: the app and the API answer first
    try:
        scorer = _scorer(ctx, mode=cfg.monitor_faithfulness)
        monitor = Monitor(InteractionLog(ctx.settings.interactions_db), scorer, flag_below=cfg.flag_below, batch=cfg.monitor_batch)

        def show(report) -> None:
            for flag in report.flagged:
                ctx.info(f"lore monitor: flagged {flag['id']} (faithfulness {flag['faithfulness']:.2f}): {flag['question'][:80]}")
            ctx.emit(report.to_json(), f"scored {report.scored} ({report.nulls} null), flagged {len(report.flagged)}, {report.remaining and 'more' or 'none'} left")

        if not ctx.args.watch:
            show(monitor.run_once())
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            monitor.watch(cfg.monitor_interval_s, stop, on_pass=lambda r: show(r) if r.scored else None)
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        lock.release()
        sys.stderr.flush()
