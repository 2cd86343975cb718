"""`lore doctor [--fix] [--json]`: is this set-up able to run Lore? (see app/doctor.py)"""

from __future__ import annotations

from app.cli import Context


def register(sub, common) -> None:
    parser = sub.add_parser("doctor", parents=[common], help="check the set-up (build, models, store, disk, tools), each with its fix")
    parser.add_argument("--fix", action="store_true", help="repair what can be repaired here (llama.cpp build, default model), then check again")
    parser.set_defaults(func=run_doctor)


def run_doctor(ctx: Context) -> int:
    from app.doctor import fix, run_checks

    results = run_checks(ctx.settings)
    repaired: list[str] = []
    if ctx.args.fix:
        repaired = fix(ctx.settings, results, ctx.info)
        if repaired:
            results = run_checks(ctx.settings)
    ok = all(c.ok for c in results if c.required)
    doc = {"ok": ok, "checks": [c.to_json() for c in results]}
    if ctx.args.fix:
        doc["fixed"] = repaired
    lines = []
    for c in results:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        lines.append(f"{mark} {c.name}: {c.detail}" + (f"\n     fix: {c.fix}" if c.fix else ""))
    lines.append("lore doctor: everything the main job needs works" if ok else "lore doctor: something the main job needs is broken (see FAIL above)")
    ctx.emit(doc, "\n".join(lines))
    return 0 if ok else 1
