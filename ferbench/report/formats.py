"""The report's output formats and their file extensions (no imports: the CLI reads
them at start-up, for ``--format``'s help, before any report work)."""

from __future__ import annotations

#: What ``ferbench report --format`` accepts.
FORMATS = ("rich", "markdown", "csv", "latex", "json", "html")
#: The file extension of each format, for ``--out FOLDER/`` (report.<ext>).
EXTENSIONS = {"rich": "txt", "markdown": "md", "csv": "csv", "latex": "tex", "json": "json", "html": "html"}
