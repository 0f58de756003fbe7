"""The report's output formats and their file extensions (light imports only: the CLI reads
them at start-up, for ``--format``'s help, before any report work)."""

from __future__ import annotations

from pathlib import PurePath

from ferbench.errors import FerbenchError

#: What ``ferbench report --format`` accepts.
FORMATS = ("rich", "markdown", "csv", "latex", "json", "html")
#: The file extension of each format, for ``--out FOLDER/`` (report.<ext>).
EXTENSIONS = {"rich": "txt", "markdown": "md", "csv": "csv", "latex": "tex", "json": "json", "html": "html"}


#: The format each file extension names (``--out report.md`` -> markdown); any other gets ``rich``.
_FORMAT_OF = {**{ext: fmt for fmt, ext in EXTENSIONS.items() if fmt != "rich"}, "markdown": "markdown", "htm": "html"}


#: ``--out -``: standard output.
STDOUT = "-"


def format_for(out: str | None) -> str:
    """The format a report file's extension asks for (``report.md`` -> markdown, ``report.txt`` or no extension -> rich).

    An extension that names no format (``report.xyz``, ``report.mdx``) is refused: the
    user would not see which format was written.
    """
    if out is None or out == STDOUT or out.endswith(("/", "\\")):
        return "rich"
    ext = PurePath(out).suffix.lower().lstrip(".")
    if not ext or ext == EXTENSIONS["rich"]:
        return "rich"
    if ext not in _FORMAT_OF:
        known = ", ".join(f".{e}" for e in sorted({*_FORMAT_OF, EXTENSIONS["rich"]}))
        raise FerbenchError(f"--out {out}: the extension .{ext} names no report format ({known}); "
                            "give one of them, or --format FORMAT")
    return _FORMAT_OF[ext]
