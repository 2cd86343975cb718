"""Reports of a golden run: `results.jsonl`, `summary.json`, `report.md`, and a self-contained
`report.html` (plots as base64 PNGs, a sortable per-question table, the worst answers with their
contexts, the trend over previous runs). History: one line per run appended to `DIR/history.jsonl`
unless another file is named.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.golden import headline
from eval.registry import names

PLOTTED = names(shown="plot")
TREND = names(shown="trend")
TABLE = names(shown="table")


def append_history(path: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Append this run and return every run so far (oldest first); unreadable lines are skipped."""
    entry = {
        "run_id": summary["run_id"],
        "timestamp": summary["timestamp"],
        "items": summary["items"],
        "model": summary.get("model", ""),
        "judge": summary.get("judge", {}).get("name", ""),
        "values": headline(summary),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def make_plots(results: Sequence[dict[str, Any]], history: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Name → base64 PNG. Agg backend: no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: dict[str, str] = {}
    present = [name for name in PLOTTED if any(r["scores"].get(name) is not None for r in results)]
    if present:
        cols = min(3, len(present))
        rows = (len(present) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
        for ax, name in zip(axes.flat, present):
            values = [r["scores"][name] for r in results if r["scores"].get(name) is not None]
            nulls = sum(1 for r in results if name in r["scores"] and r["scores"][name] is None)
            ax.hist(values, bins=[i / 10 for i in range(11)], color="#4a7bd0", edgecolor="white")
            mean = sum(values) / len(values)
            ax.axvline(mean, color="#d04a4a", linestyle="--", label=f"mean {mean:.2f}")
            ax.set_title(f"{name} (n={len(values)}, null={nulls})", fontsize=10)
            ax.set_xlim(0, 1)
            ax.legend(fontsize=8)
        for ax in list(axes.flat)[len(present):]:
            ax.axis("off")
        fig.suptitle("Score distributions", fontsize=12)
        plots["distributions"] = _png(fig)
    latencies = [r["scores"]["latency_ms"] / 1000 for r in results if r["scores"].get("latency_ms") is not None]
    if latencies:
        fig, ax = plt.subplots(figsize=(5, 2.8))
        ax.hist(latencies, bins=min(20, max(5, len(latencies))), color="#6a9f58", edgecolor="white")
        ax.set_xlabel("seconds per answer")
        ax.set_title(f"Answer latency (median {sorted(latencies)[len(latencies) // 2]:.1f} s)", fontsize=10)
        plots["latency"] = _png(fig)
    if len(history) >= 1:
        fig, ax = plt.subplots(figsize=(7, 3))
        xs = list(range(1, len(history) + 1))
        for name in TREND:
            ys = [run["values"].get(name) for run in history]
            if any(y is not None for y in ys):
                ax.plot(xs, [y if y is not None else float("nan") for y in ys], marker="o", label=name)
        ax.set_ylim(0, 1.05)
        ax.set_xticks(xs)
        ax.set_xticklabels([run["timestamp"][5:16].replace("T", " ") for run in history], rotation=30, fontsize=7)
        ax.set_title(f"Trend over {len(history)} run(s)", fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
        plots["trend"] = _png(fig)
    return plots


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _cell(scores: dict[str, Any], name: str) -> str:
    """'–' when the metric does not apply to this row (absent), 'null' when the judge failed on it."""
    return _fmt(scores[name]) if name in scores else "–"


def _claim_note(claim: dict[str, Any]) -> str:
    """The checker's probability (and the judge's verdict, when both scored the claim)."""
    parts = [f"checker p={claim['p']:.2f}"] if claim.get("evidence") is not None and claim.get("p") is not None else []
    if claim.get("judge_supported") is not None:
        parts.append(f"judge {'yes' if claim['judge_supported'] else 'no'}")
    return f" ({', '.join(parts)})" if parts else ""


def worst(results: Sequence[dict[str, Any]], count: int = 5) -> list[dict[str, Any]]:
    """Lowest faithfulness first (a null counts as worst: the judge could not vouch for it), then wrong refusals."""

    def key(row: dict[str, Any]) -> tuple[float, float]:
        faith = row["scores"].get("faithfulness")
        return (-1.0 if faith is None else faith, row["scores"].get("refusal_correct", 1.0))

    ranked = sorted(results, key=key)
    return [r for r in ranked if key(r) < (1.0, 1.0)][:count]


def render_markdown(results: Sequence[dict[str, Any]], summary: dict[str, Any], failures: Sequence[str]) -> str:
    lines = [f"# Lore evaluation — {summary['timestamp']}", ""]
    lines.append(f"{summary['items']} questions · model `{summary.get('model', '')}` · judge `{summary.get('judge', {}).get('name', '')}` · "
                 f"judge NaN rate {summary['judge_nan_rate']:.1%}")
    lines += ["", "| metric | mean | median | min | n | nulls |", "|---|---|---|---|---|---|"]
    for name, doc in summary["metrics"].items():
        lines.append(f"| {name} | {_fmt(doc['mean'])} | {_fmt(doc['median'])} | {_fmt(doc['min'])} | {doc['n']} | {doc['nulls']} |")
    refusal = summary.get("refusal", {})
    lines += ["", f"**Refusal accuracy** {_fmt(refusal.get('refusal_accuracy'))} — answerable refused: {refusal.get('answerable_refused')}, "
              f"unanswerable answered: {refusal.get('unanswerable_answered')}", ""]
    lines.append("**Gate:** " + ("passed" if not failures else "FAILED — " + "; ".join(failures)))
    lines += ["", "## Worst answers", ""]
    if not worst(results):
        lines += ["None: every answer is fully faithful and every refusal decision is right.", ""]
    for row in worst(results):
        lines.append(f"### {row['id']}: {row['question']}")
        lines.append(f"- answer: {row['answer']}")
        lines.append(f"- faithfulness {_fmt(row['scores'].get('faithfulness'))}, refused {row['refused']}, answerable {row['answerable']}")
        for claim in row.get("detail", {}).get("faithfulness", {}).get("claims", []):
            lines.append(f"  - {'✔' if claim['supported'] else '✘'} {claim['claim']}{_claim_note(claim)}")
            if claim.get("evidence"):
                lines.append(f"    - closest passage sentence: {claim['evidence']}")
        lines.append("")
    lines += ["## Per question", "", "| id | " + " | ".join(TABLE) + " |", "|---" * (len(TABLE) + 1) + "|"]
    for row in results:
        lines.append(f"| {row['id']} | " + " | ".join(_cell(row["scores"], n) for n in TABLE) + " |")
    return "\n".join(lines) + "\n"


SORT_JS = """
document.querySelectorAll('table.sortable th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], asc = th.dataset.asc !== '1';
  th.closest('tr').querySelectorAll('th').forEach(h => delete h.dataset.asc); th.dataset.asc = asc ? '1' : '0';
  const val = r => { const t = r.cells[col].dataset.v ?? r.cells[col].textContent; const n = parseFloat(t); return isNaN(n) ? t : n; };
  [...body.rows].sort((a, b) => { const x = val(a), y = val(b); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); })
    .forEach(r => body.appendChild(r));
}));
"""
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef;cursor:pointer}.bad{background:#fde2e2}.good{background:#e3f6e0}.ctx{font-size:12px;color:#444;white-space:pre-wrap;
max-height:12em;overflow:auto;border-left:3px solid #aac;padding-left:8px;margin:4px 0}.fail{color:#b00;font-weight:bold}.pass{color:#070;font-weight:bold}
img{max-width:100%}"""


def render_html(results: Sequence[dict[str, Any]], summary: dict[str, Any], failures: Sequence[str], plots: dict[str, str]) -> str:
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>Lore evaluation {e(summary['timestamp'])}</title><style>{CSS}</style></head><body>"]
    out.append(f"<h1>Lore evaluation</h1><p>{e(summary['timestamp'])} · {summary['items']} questions · model <code>{e(summary.get('model', ''))}</code> · "
               f"judge <code>{e(summary.get('judge', {}).get('name', ''))}</code> · judge NaN rate {summary['judge_nan_rate']:.1%}</p>")
    gate = "<span class='pass'>passed</span>" if not failures else "<span class='fail'>FAILED</span>: " + e("; ".join(failures))
    out.append(f"<p>Gate: {gate}</p>")
    refusal = summary.get("refusal", {})
    out.append(f"<p>Refusal accuracy <b>{_fmt(refusal.get('refusal_accuracy'))}</b> (answerable refused: {refusal.get('answerable_refused')}, "
               f"unanswerable answered: {refusal.get('unanswerable_answered')})</p>")
    out.append("<table class='sortable'><thead><tr><th>metric</th><th>mean</th><th>median</th><th>min</th><th>n</th><th>nulls</th></tr></thead><tbody>")
    for name, doc in summary["metrics"].items():
        out.append(f"<tr><td>{e(name)}</td>" + "".join(f"<td>{_fmt(doc[k])}</td>" for k in ("mean", "median", "min", "n", "nulls")) + "</tr>")
    out.append("</tbody></table>")
    for name, title in (("distributions", "Score distributions"), ("trend", "Trend across runs"), ("latency", "Latency")):
        if name in plots:
            out.append(f"<h2>{title}</h2><img alt='{name}' src='data:image/png;base64,{plots[name]}'>")
    out.append("<h2>Per question</h2><p>Click a column to sort.</p><table class='sortable'><thead><tr><th>id</th><th>question</th><th>refused</th>"
               + "".join(f"<th>{e(n)}</th>" for n in TABLE) + "</tr></thead><tbody>")
    for row in results:
        faith = row["scores"].get("faithfulness")
        css = "bad" if (faith is not None and faith < 0.5) or row["scores"].get("refusal_correct") == 0 else ""
        cells = "".join(f"<td data-v='{'' if row['scores'].get(n) is None else row['scores'][n]}'>{_cell(row['scores'], n)}</td>" for n in TABLE)
        out.append(f"<tr class='{css}'><td>{e(row['id'])}</td><td>{e(row['question'])}</td><td>{row['refused']}</td>{cells}</tr>")
    out.append("</tbody></table><h2>Worst answers</h2>")
    if not worst(results):
        out.append("<p>None: every answer is fully faithful and every refusal decision is right.</p>")
    for row in worst(results):
        out.append(f"<h3>{e(row['id'])}: {e(row['question'])}</h3><p><b>Answer</b> (refused={row['refused']}, answerable={row['answerable']}, "
                   f"faithfulness {_fmt(row['scores'].get('faithfulness'))}): {e(row['answer'])}</p>")
        if row.get("reference_answer"):
            out.append(f"<p><b>Reference</b>: {e(row['reference_answer'])} <i>({e(', '.join(row.get('reference_sources', [])))})</i></p>")
        claims = row.get("detail", {}).get("faithfulness", {}).get("claims", [])
        if claims:
            out.append("<ul>" + "".join(f"<li class='{'good' if c['supported'] else 'bad'}'>{'supported' if c['supported'] else 'NOT supported'}: "
                                         f"{e(c['claim'])}{e(_claim_note(c))}"
                                         + (f"<br><small>closest passage sentence: <i>{e(c['evidence'])}</i></small>" if c.get("evidence") else "")
                                         + "</li>" for c in claims) + "</ul>")
        if row.get("errors"):
            out.append(f"<p class='fail'>judge errors: {e(json.dumps(row['errors']))}</p>")
        for i, ctx in enumerate(row.get("contexts", []), 1):
            page = f" p.{e(str(ctx['page']))}" if ctx.get("page") is not None else ""
            out.append(f"<div class='ctx'><b>[{i}] {e(str(ctx['source']))}{page} score {_fmt(ctx.get('score'))}</b>\n{e(ctx['text'])}</div>")
    out.append(f"<script>{SORT_JS}</script></body></html>")
    return "\n".join(out)


def write_report(directory: Path, results: Sequence[dict[str, Any]], summary: dict[str, Any], failures: Sequence[str],
                 history_file: Path | None = None) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    history = append_history(history_file or directory / "history.jsonl", summary)
    summary = {**summary, "gate": {"passed": not failures, "failures": list(failures)}, "history_runs": len(history)}
    paths = {name: directory / name for name in ("results.jsonl", "summary.json", "report.md", "report.html")}
    with paths["results.jsonl"].open("w", encoding="utf-8") as handle:
        for row in results:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    paths["summary.json"].write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    paths["report.md"].write_text(render_markdown(results, summary, failures), encoding="utf-8")
    paths["report.html"].write_text(render_html(results, summary, failures, make_plots(results, history)), encoding="utf-8")
    return paths
