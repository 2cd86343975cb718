"""Admin: how good the answers are — faithfulness over time, the lowest-scored answers with the
contexts they were built from, the staff's feedback, and latency percentiles."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from app.views import common
from retrieval.interactions import InteractionLog

LOWEST = 10
LATENCY_SAMPLE = 2000


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d")


def faithfulness_section(log: InteractionLog, flag_below: float) -> None:
    st.subheader("Faithfulness")
    rows = log.scores("faithfulness")
    scored = [r for r in rows if r["value"] is not None]
    failed = len(rows) - len(scored)
    if not rows:
        st.info("No answer has been scored yet: run `lore monitor` (continuous scoring of logged answers).")
        return
    mean = sum(r["value"] for r in scored) / len(scored) if scored else None
    below = sum(1 for r in scored if r["value"] < flag_below)
    cols = st.columns(4)
    cols[0].metric("Mean", f"{mean:.2f}" if mean is not None else "—")
    cols[1].metric("Scored answers", len(scored))
    cols[2].metric(f"Below {flag_below:g}", below)
    cols[3].metric("Judge failures", failed, help="answers the judge could not score (counted, not hidden)")
    by_day: dict[str, list[float]] = {}
    for r in scored:
        by_day.setdefault(_day(r["asked_ts"]), []).append(r["value"])
    chart = {"day": list(by_day), "faithfulness": [sum(v) / len(v) for v in by_day.values()], "answers": [len(v) for v in by_day.values()]}
    if chart["day"]:
        st.line_chart(chart, x="day", y="faithfulness", y_label="mean faithfulness", height=260)

    st.markdown("**Lowest-scored answers**")
    for r in sorted(scored, key=lambda r: r["value"])[:LOWEST]:
        with st.expander(f"{r['value']:.2f} · {r['question'][:90]}"):
            st.markdown(f"**Question:** {common.escape_markdown(r['question'])}")
            st.markdown(f"**Answer:** {common.escape_markdown(r['answer'])}")
            st.caption(f"user {r['user']} · {_day(r['asked_ts'])} · judge {r['judge']}")
            interaction = log.get(r["interaction_id"]) or {}
            for n, ctx in enumerate(interaction.get("contexts", []), start=1):
                where = common.location_label(ctx.get("source", ""), ctx.get("page"))
                st.markdown(f"**[{n}] {common.escape_markdown(ctx.get('source', ''))}** {where}")
                st.caption(ctx.get("text", ""))


def feedback_section(log: InteractionLog) -> None:
    st.subheader("Feedback")
    rows = log.feedback(limit=500)
    if not rows:
        st.info("No feedback yet.")
        return
    up = sum(1 for r in rows if r["rating"] > 0)
    cols = st.columns(2)
    cols[0].metric("Thumbs up", up)
    cols[1].metric("Thumbs down", len(rows) - up)
    table = [
        {
            "when": dt.datetime.fromtimestamp(r["ts"]).strftime("%Y-%m-%d %H:%M"),
            "user": r["user"],
            "rating": "👍" if r["rating"] > 0 else "👎",
            "comment": r["comment"],
            "question": r["question"],
            "answer": r["answer"],
        }
        for r in rows
    ]
    st.dataframe(table, hide_index=True, width="stretch")


def latency_section(log: InteractionLog) -> None:
    st.subheader("Latency")
    recent = log.recent(limit=LATENCY_SAMPLE)
    if not recent:
        st.info("No answers logged yet.")
        return
    table = []
    for key, label in (("retrieve_ms", "retrieval"), ("first_token_ms", "first token"), ("total_ms", "total")):
        values = [r["timings"].get(key) for r in recent if isinstance(r.get("timings"), dict)]
        values = [float(v) for v in values if v is not None]
        row = {"stage": label, "answers": len(values)}
        for q in (50, 90, 95, 99):
            p = common.percentile(values, q)
            row[f"p{q} (s)"] = round(p / 1000, 2) if p is not None else None
        table.append(row)
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(f"Over the last {len(recent)} answers (all channels).")


def main() -> None:
    common.require_admin()
    settings = common.settings()
    log = common.interaction_log(settings)
    st.title("Quality")
    faithfulness_section(log, settings.eval.flag_below)
    st.divider()
    feedback_section(log)
    st.divider()
    latency_section(log)


main()
