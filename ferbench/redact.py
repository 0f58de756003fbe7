"""Keep storage passwords out of every log line, record, plan, report and exception."""

from __future__ import annotations

import re
from urllib.parse import unquote

# scheme://user:password@host -> scheme://user:***@host (also inside longer text)
_CRED = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?P<at>@)")
# key=value forms in libpq / SQLAlchemy connection strings and query parameters
_KV = re.compile(r"(?P<pre>\b(?:password|passwd|pwd)\s*=\s*)(?P<pw>[^\s&;'\"]+)", re.IGNORECASE)


def redact(text: str | None, url: str | None = None) -> str:
    """``text`` with any URL password or ``password=...`` value replaced by ``***``.

    When ``url`` is given, its password is also removed wherever it appears bare
    (drivers quote it in their own words), both as written and percent-decoded.
    """
    if not text:
        return text or ""
    if url:
        m = _CRED.search(url)
        if m:
            for secret in {m["pw"], unquote(m["pw"])}:
                text = text.replace(secret, "***")
    text = _CRED.sub(lambda m: f"{m['pre']}***{m['at']}", text)
    return _KV.sub(lambda m: f"{m['pre']}***", text)
