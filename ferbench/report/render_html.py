"""One self-contained HTML file: inline CSS, tables, and plots embedded as base64 PNG.

It loads nothing from the network and runs no script, so it opens offline, in a mail
attachment, or from a CI artifact.
"""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

from ferbench.report.model import Report, Section, Table

if TYPE_CHECKING:
    from ferbench.report.model import Figure

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px 32px; color: #1b1f24; background: #ffffff; }
h1 { font-size: 24px; margin: 0 0 4px 0; }
h2 { font-size: 19px; margin: 28px 0 8px 0; padding-bottom: 4px; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 15px; margin: 16px 0 6px 0; }
p.meta, p.note, li { font-size: 13px; color: #57606a; }
nav ul { margin: 4px 0; padding-left: 20px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 6px 0; }
th, td { padding: 4px 8px; border-bottom: 1px solid #d8dee4; }
td.num { white-space: nowrap; }
th { vertical-align: bottom; }
td.text { max-width: 260px; }
td small { color: #57606a; font-weight: normal; }
.table { overflow-x: auto; max-width: 100%; }
th { background: #eaeef2; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.compare th { background: #1f6feb; color: #ffffff; }
table.compare tr.run td { background: #fff3bf; font-weight: 600; }
table.compare tr.human td { font-style: italic; }
.tables { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.tables.narrow > .table { max-width: 520px; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; }
figure img { max-width: 560px; border: 1px solid #d0d7de; }
figcaption { font-size: 12px; color: #57606a; }
.warn { color: #9a6700; }
"""


def _table(t: Table, compare: bool) -> str:
    cls = ' class="compare"' if compare else ""
    under = {v: k for k, v in t.stack.items()}
    cols = [c for c in t.columns if c.key not in under]
    by_key = {c.key: c for c in t.columns}
    head = "".join(f'<th class="{"num" if c.numeric else "text"}">{html.escape(c.label)}</th>' for c in cols)
    body = []
    for r in t.rows:
        kind = r.get("kind")
        rcls = f' class="{html.escape(str(kind))}"' if compare and kind else ""
        cells = []
        for c in cols:
            text = html.escape(t.cell(r, c))
            if c.key in t.stack:
                text += f'<br><small>{html.escape(t.cell(r, by_key[t.stack[c.key]]))}</small>'
            cells.append(f'<td class="{"num" if c.numeric else "text"}">{text}</td>')
        body.append(f"<tr{rcls}>{''.join(cells)}</tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in t.notes)
    table = f'<table{cls}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    return f'<div class="table" id="{html.escape(t.key)}"><h3>{html.escape(t.title)}</h3>{table}{notes}</div>'


def _figure(f: Figure) -> str:
    data = base64.b64encode(f.png.read_bytes()).decode("ascii")
    alt = html.escape(f.title)
    return f'<figure id="{html.escape(f.key)}"><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}</figcaption></figure>'


def _section(sec: Section) -> str:
    compare = sec.key.startswith("compare-")
    parts = [f'<section id="{html.escape(sec.key)}"><h2>{html.escape(sec.title)}</h2>']
    if compare:
        # The comparison table leads; the frontier plot and the paired tests sit side by side under it.
        main, rest = sec.tables[:1], sec.tables[1:]
        parts += [_table(t, True) for t in main]
        parts.append('<div class="tables">' + "".join(_figure(f) for f in sec.figures) + "".join(_table(t, False) for t in rest) + "</div>")
    else:
        # A run: its small tables in one row, then the figures (confusion matrices first), then the rest.
        head, rest = sec.tables[:3], sec.tables[3:]
        parts.append('<div class="tables narrow">' + "".join(_table(t, False) for t in head) + "</div>")
        if sec.figures:
            parts.append('<div class="figures">' + "".join(_figure(f) for f in sec.figures) + "</div>")
        parts.append('<div class="tables">' + "".join(_table(t, False) for t in rest) + "</div>")
    if sec.notes:
        parts.append("<ul>" + "".join(f'<li class="warn">{html.escape(n)}</li>' for n in sec.notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The report as one HTML document (figures must already be written as PNG)."""
    toc = "".join(f'<li><a href="#{html.escape(s.key)}">{html.escape(s.title)}</a></li>' for s in report.sections)
    meta = html.escape(report.data.get("summary", ""))
    warnings = "".join(f'<li class="warn">{html.escape(w)}</li>' for w in report.warnings)
    body = "".join(_section(s) for s in report.sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(report.title)}</title><style>{CSS}</style></head>"
        f'<body><h1>{html.escape(report.title)}</h1><p class="meta">{meta}</p>'
        f"<nav><ul>{toc}</ul></nav>{body}"
        + (f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else "")
        + "</body></html>\n"
    )
