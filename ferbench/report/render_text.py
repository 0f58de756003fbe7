"""Text renderers: markdown, CSV, LaTeX (booktabs), JSON and the rich terminal view.

Output carries no timestamps or machine paths beyond the figures' own, so the same
results always give the same report (the golden test relies on it).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ferbench.report.model import Column, Figure, Marked, MeanSD, Report, Section, Table, fmt, raw
from ferbench.report.safe_text import csv_cell, printable
from ferbench.report.stats import Estimate

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text


def _figure_path(f: Figure, base: Path | None) -> str:
    p = f.png
    if base is not None:
        try:
            return os.path.relpath(p, base).replace(os.sep, "/")
        except ValueError:  # another drive (Windows)
            pass
    return str(p)


# --------------------------------------------------------------------------- markdown


def _md_escape(s: str) -> str:
    return printable(s).replace("|", "\\|")


def _tabulate(header: list[str], rows: list[list[str]], columns: list[Column], fmt: Any) -> str:
    """Cells as given (no number parsing, no escaping of its own), numbers right-aligned, through tabulate."""
    from tabulate import tabulate

    align = ["right" if c.numeric else "left" for c in columns]
    if rows:
        return str(tabulate(rows, headers=header, tablefmt=fmt, colalign=align, disable_numparse=True))
    # tabulate aligns by the rows it has: lay the table out with one blank row, then drop that row.
    lines = tabulate([[""] * len(header)], headers=header, tablefmt=fmt, colalign=align, disable_numparse=True).splitlines()
    del lines[-1 if fmt == "pipe" else -3]  # booktabs ends with \bottomrule and \end{tabular}
    return "\n".join(lines)


def markdown_table(t: Table) -> str:
    """A GitHub-flavoured pipe table with numbers right-aligned (tabulate's ``pipe`` format: it marks the alignment)."""
    header = [_md_escape(c.label) for c in t.columns]
    rows = [[_md_escape(t.cell(r, c)) for c in t.columns] for r in t.rows]
    return _tabulate(header, rows, list(t.columns), "pipe")


def render_markdown(report: Report, base: Path | None = None) -> str:
    """The whole report as markdown; figures are linked (relative to ``base``)."""
    out = [f"# {printable(report.title)}", ""]
    for sec in report.sections:
        out += [f"## {printable(sec.title)}", ""]
        for t in sec.tables:
            out += [f"### {printable(t.title)}", "", markdown_table(t), ""]
            out += [f"_{printable(n)}_" for n in t.notes] + ([""] if t.notes else [])
        out += [f"- {printable(n)}" for n in sec.notes] + ([""] if sec.notes else [])
        for f in sec.figures:
            out += [f"![{printable(f.title)}]({_figure_path(f, base)})", ""]
    if report.warnings:
        out += ["## Warnings", ""] + [f"- {printable(w)}" for w in report.warnings] + [""]
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- CSV


def _machine(row: dict[str, Any], col: Column) -> Any:
    v = row.get(f"{col.key}:raw", row.get(col.key))
    return v.value if isinstance(v, Marked) else v


def _csv_columns(t: Table) -> list[tuple[str, Column, str]]:
    """Machine column names; a column holding estimates gets ``_ci_low``/``_ci_high`` siblings, one holding means ``_sd``."""
    out = []
    for c in t.columns:
        out.append((c.key, c, "value"))
        if any(isinstance(_machine(r, c), Estimate) for r in t.rows):
            out += [(f"{c.key}_ci_low", c, "low"), (f"{c.key}_ci_high", c, "high")]
        if any(isinstance(_machine(r, c), MeanSD) for r in t.rows):
            out.append((f"{c.key}_sd", c, "sd"))
    return out


def render_csv(report: Report) -> str:
    """One block per table: a ``# title`` line, a header of machine keys, raw full-precision values."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for sec in report.sections:
        for t in sec.tables:
            cols = _csv_columns(t)
            buf.write(f"# {printable(sec.title)} / {printable(t.title)}\n")
            w.writerow([csv_cell(name) for name, _, _ in cols])
            for r in t.rows:
                line = []
                for _, c, part in cols:
                    v = _machine(r, c)
                    if isinstance(v, Estimate):
                        v = {"value": v.value, "low": v.low, "high": v.high}.get(part)
                    elif isinstance(v, MeanSD):
                        v = {"value": v.mean, "sd": v.sd}.get(part)
                    elif part != "value":
                        v = None  # a published number has no interval
                    line.append("" if v is None else repr(v) if isinstance(v, float) else csv_cell(v))
                w.writerow(line)
            buf.write("\n")
    return buf.getvalue()


# --------------------------------------------------------------------------- LaTeX

_TEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_TEX_UNICODE = {"Δ": r"$\Delta$", "±": r"$\pm$", "α": r"$\alpha$", "–": "--", "−": "-", "≤": r"$\le$"}


def tex_escape(s: str) -> str:
    """Escape LaTeX specials and map the few unicode symbols a report uses."""
    s = "".join(_TEX.get(ch, ch) for ch in printable(s))
    for u, t in _TEX_UNICODE.items():
        s = s.replace(u, t)
    return s


def _booktabs() -> Any:
    """tabulate's ``latex_booktabs`` with the cells left as :func:`tex_escape` made them.

    tabulate's own LaTeX escaping knows the ASCII specials but not the unicode symbols a
    report uses (±, ×, ≤), so ferbench escapes the cells and tabulate lays out the rules,
    the column specification and the alignment.
    """
    import tabulate

    formats = getattr(tabulate, "_table_formats")  # noqa: B009 (tabulate's formats as objects; only their names are public)
    booktabs, raw_rows = formats["latex_booktabs"], formats["latex_raw"]
    return booktabs._replace(headerrow=raw_rows.headerrow, datarow=raw_rows.datarow)


def latex_table(t: Table, label: str) -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``)."""
    header = [tex_escape(c.label) for c in t.columns]
    rows = [[tex_escape(t.cell(r, c)) for c in t.columns] for r in t.rows]
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\caption{" + tex_escape(t.title) + "}",
        r"\label{tab:" + label + "}",
        _tabulate(header, rows, list(t.columns), _booktabs()),
    ]
    lines += [r"\par\smallskip{\footnotesize " + tex_escape(" ".join(t.notes)) + "}"] if t.notes else []
    lines.append(r"\end{table}")
    return "\n".join(lines)


def render_latex(report: Report) -> str:
    """Every table as a booktabs table, ready to ``\\input``."""
    out = [f"% {tex_escape(report.title)}: generated by ferbench report; needs \\usepackage{{booktabs}}", ""]
    for sec in report.sections:
        out += [f"% --- {sec.title}"]
        out += [f"% {n}" for n in sec.notes]
        for t in sec.tables:
            out += [latex_table(t, t.key), ""]
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- JSON


def table_json(t: Table) -> dict[str, Any]:
    return {
        "key": t.key,
        "title": t.title,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in t.columns],
        "rows": [{c.key: raw(_machine(r, c)) for c in t.columns} for r in t.rows],
        "notes": t.notes,
    }


def section_json(sec: Section, base: Path | None) -> dict[str, Any]:
    return {
        "key": sec.key,
        "title": sec.title,
        "notes": sec.notes,
        "tables": [table_json(t) for t in sec.tables],
        "figures": [
            {"key": f.key, "title": f.title, "png": _figure_path(f, base), "svg": _figure_path(Figure(f.key, f.title, f.svg, f.svg), base)}
            for f in sec.figures
        ],
    }


def render_json(report: Report, base: Path | None = None) -> str:
    """Full-precision numbers for machines: per-run data, comparisons and every table."""
    frontier_checked(report.data)
    doc = {"ferbench_report": 1, "title": report.title, **report.data, "warnings": report.warnings,
           "sections": [section_json(s, base) for s in report.sections]}
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False, default=raw) + "\n"


def frontier_checked(data: dict[str, Any]) -> None:
    """Check the frontier and Pareto blocks of the report's data against ``schemas/frontier.schema.json``.

    A block that breaks it is a bug in ferbench (the report builds them), so it stops the
    report with the schema's words rather than writing a file machines would misread.
    """
    from ferbench.results.schema import schema_problems

    blocks = [("comparisons", i, {"frontier": c["frontier"]}) for i, c in enumerate(data.get("comparisons") or []) if "frontier" in c]
    blocks += [("runs", i, {k: r[k] for k in ("objectives", "pareto") if k in r})
               for i, r in enumerate(data.get("runs") or []) if "pareto" in r]
    for where, i, block in blocks:
        bad = schema_problems(json.loads(json.dumps(block, default=raw)), "frontier.schema.json")
        if bad:
            raise ValueError(f"report {where}[{i}] breaks frontier.schema.json: " + "; ".join(bad[:5]))


# --------------------------------------------------------------------------- rich


def print_rich(report: Report, console: Console | None = None) -> None:
    """Tables in the terminal (to ``console``, a rich Console; stdout by default).

    Every string goes out as :class:`rich.text.Text`, never as markup: run labels
    (``name [class_weight=none]``), spec and baseline names and paths are shown as they are.
    """
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    console.rule(Text(printable(report.title), style="bold"))
    for sec in report.sections:
        console.print()
        console.rule(Text(printable(sec.title), style="bold cyan"), align="left")
        for t in sec.tables:
            _print_table(console, t)
            for n in t.notes:
                console.print(Text(printable(n), style="dim"))
        for n in sec.notes:
            console.print(Text("note: ", style="yellow") + Text(printable(n)))
        for f in sec.figures:
            console.print(Text("figure: ", style="dim") + Text(printable(f"{f.title}: {f.png}")))
    for w in report.warnings:
        console.print(Text("warning: ", style="yellow") + Text(printable(w)))


def _print_table(console: Console, t: Table) -> None:
    """One table, never squeezed until its first columns vanish.

    Piped output (a log, a file) gets the table's natural width. A terminal too
    narrow for it gets the table transposed (one column per row of the table),
    and failing that one small key/value table per row.
    """
    from rich.measure import Measurement
    from rich.table import Table as RichTable
    from rich.text import Text

    # The terminal is narrow: citations stay in the file formats and in --list-baselines.
    cols = [c for c in t.columns if c.key != "source"]
    styles = ["dim" if r.get("kind") in ("human", "published", "reproduction") else None for r in t.rows]
    cells = [[_rich_cell(r.get(c.key), c) for c in cols] for r in t.rows]

    def natural(table: RichTable) -> int:
        return Measurement.get(console, console.options.update_width(10_000), table).maximum

    title = Text(printable(t.title))
    rt = RichTable(title=title, title_justify="left", show_lines=False, header_style="bold")
    for c in cols:
        rt.add_column(Text(printable(c.label)), justify="right" if c.numeric else "left", overflow="fold", no_wrap=c.numeric)
    for row, style in zip(cells, styles, strict=True):
        rt.add_row(*row, style=style)
    width = natural(rt)
    if width <= console.width or not console.is_terminal:
        saved = console.width
        console.width = max(width, saved)
        try:
            console.print(rt)
        finally:
            console.width = saved
        return
    tt = RichTable(title=title, title_justify="left", header_style="bold")
    tt.add_column("", style="bold")
    for row, style in zip(cells, styles, strict=True):
        tt.add_column(row[0], justify="right", style=style)
    for j, c in enumerate(cols[1:], 1):
        tt.add_row(Text(printable(c.label)), *(row[j] for row in cells))
    if natural(tt) <= console.width:
        console.print(tt)
        return
    if t.title:
        console.print(Text(printable(t.title), style="italic"))
    for row, style in zip(cells, styles, strict=True):
        kv = RichTable(title=row[0], title_justify="left", show_header=False, style=style or "")
        kv.add_column(style="bold")
        kv.add_column(justify="right")
        for c, cell in zip(cols[1:], row[1:], strict=True):
            kv.add_row(Text(printable(c.label)), cell)
        console.print(kv)


def _rich_cell(v: object, c: Column) -> Text:
    """Plain Text (values may hold '[' that rich would read as markup); a CI goes on a second, dim line."""
    from rich.text import Text

    if isinstance(v, Estimate) and v.has_ci:
        main = fmt(Estimate(v.value), c.kind)
        return Text(main) + Text("\n" + fmt(v, c.kind)[len(main):].strip(), style="dim")
    return Text(printable(fmt(v, c.kind)))
