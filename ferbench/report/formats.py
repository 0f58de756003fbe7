"""The report's output formats and their file extensions (standard library only: the CLI reads
them at start-up, for ``--format``'s help, before any report work)."""

from __future__ import annotations

from pathlib import PurePath

#: What ``ferbench report --format`` accepts.
FORMATS = ("rich", "markdown", "csv", "latex", "json", "html")
#: The file extension of each format, for ``--out FOLDER/`` (report.<ext>).
EXTENSIONS = {"rich": "txt", "markdown": "md", "csv": "csv", "latex": "tex", "json": "json", "html": "html"}


#: The format each file extension names (``--out report.md`` -> markdown); any other gets ``rich``.
_FORMAT_OF = {**{ext: fmt for fmt, ext in EXTENSIONS.items() if fmt != "rich"}, "markdown": "markdown", "htm": "html"}


def format_for(out: str | None) -> str:
    """The format a report file's extension asks for (``report.md`` -> markdown); ``rich`` otherwise."""
    if out is None or out.endswith(("/", "\\")):
        return "rich"
    return _FORMAT_OF.get(PurePath(out).suffix.lower().lstrip("."), "rich")
