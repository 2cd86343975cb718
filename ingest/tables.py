"""Tables as Markdown rows: parsed from the HTML that unstructured keeps for tables, so a chunker
can split between rows (never inside one) and repeat the header row."""

from __future__ import annotations


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def html_table_rows(html: str) -> tuple[str, ...]:
    """`<table>` HTML → ('| a | b |', '| --- | --- |', '| 1 | 2 |', ...); empty rows and columns dropped."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.fromstring(html)
    except Exception:  # malformed markup: the caller falls back to the plain text
        return ()
    grid = [[_cell(td.text_content()) for td in tr.xpath("./th|./td")] for tr in root.iter("tr")]
    grid = [row for row in grid if any(row)]
    if not grid:
        return ()
    width = max(len(r) for r in grid)
    grid = [r + [""] * (width - len(r)) for r in grid]
    keep = [c for c in range(width) if any(r[c] for r in grid)]
    grid = [[r[c] for c in keep] for r in grid]
    lines = ["| " + " | ".join(r) + " |" for r in grid]
    return (lines[0], "|" + " --- |" * len(keep), *lines[1:])
