"""Keep storage passwords out of every line ferbench prints, logs, stores or raises.

A URL is parsed by the library that opens it — SQLAlchemy, for every database
storage — and rendered by that same library with the password hidden, so what
counts as the password is exactly what the driver receives (passwords may hold
``/``, ``:`` or spaces). Never a regular expression.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_plus

HIDDEN = "***"
#: Every storage URL this process has planned or opened: :func:`redact` hides their passwords anywhere.
_KNOWN: set[str] = set()
#: Query parameters that carry a password in libpq and other drivers' URLs.
_QUERY_SECRETS = ("password", "passwd", "pwd")


def _parse(url: str) -> Any | None:
    """SQLAlchemy's URL object, or ``None`` for URLs that cannot hold credentials (or do not parse)."""
    if "://" not in url or url.startswith("journal://"):
        return None
    rest = url.partition("://")[2]
    if "@" not in rest and "?" not in rest:  # no user info, no query: nothing to hide (and no import)
        return None
    from sqlalchemy.engine.url import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


def _secrets(url: str) -> list[str]:
    """The URL's password and password-like query values, in every form they may be printed in."""
    parsed = _parse(url)
    if parsed is None:
        return []
    values = [parsed.password] if parsed.password else []
    for key, value in parsed.query.items():
        if key.lower() in _QUERY_SECRETS:
            values.extend([value] if isinstance(value, str) else list(value))
    forms = {form for v in values if v for form in (v, quote(v, safe=""), quote_plus(v))}
    return sorted(forms, key=len, reverse=True)  # longest first: no partial replacement


def hide_password(url: str | None) -> str:
    """``url`` as it may be shown: the password (and password query values) as ``***``."""
    if not url:
        return url or ""
    parsed = _parse(url)
    if parsed is None:
        if "://" in url and "@" in url.partition("://")[2] and not url.startswith("journal://"):
            # Not a URL SQLAlchemy reads (it would refuse to open it too): show no credentials at all.
            scheme, _, rest = url.partition("://")
            return f"{scheme}://{HIDDEN}@{rest.rpartition('@')[2]}"
        return url
    query = {k: (HIDDEN if k.lower() in _QUERY_SECRETS else v) for k, v in parsed.query.items()}
    shown: str = parsed.set(query=query).render_as_string(hide_password=True)
    return shown.replace(quote(HIDDEN, safe=""), HIDDEN)  # the query is rendered percent-encoded


def remember(url: str | None) -> None:
    """Note a storage URL this process uses, so that :func:`redact` hides its password everywhere."""
    if url and _secrets(url):
        _KNOWN.add(url)


def redact(text: str | None, url: str | None = None) -> str:
    """``text`` with ``url`` (and every remembered URL) shown as :func:`hide_password` shows it, its password nowhere.

    Drivers quote the password in words of their own (``password authentication
    failed for user "u"``, a connection string), so every form of it is removed,
    wherever it stands.
    """
    if not text:
        return text or ""
    urls = sorted(_KNOWN | ({url} if url else set()), key=len, reverse=True)
    for u in urls:
        text = text.replace(u, hide_password(u))
    for u in urls:
        for secret in _secrets(u):
            text = text.replace(secret, HIDDEN)
    return text
