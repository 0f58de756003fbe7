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
#: Query parameters that carry a password in libpq and other drivers' URLs (``sslpassword`` too) ...
_QUERY_SECRETS = ("passwd", "pwd")
#: ... and every parameter whose name holds one of these words (``api_token``, ``client_secret``).
_SECRET_WORDS = ("password", "secret", "token")


def secret_key(key: str) -> bool:
    """Whether a URL query parameter named ``key`` carries a secret, whose value is never shown."""
    k = key.lower()
    return k in _QUERY_SECRETS or any(word in k for word in _SECRET_WORDS)


def storage_problem(url: str) -> str | None:
    """Why ``url`` is not a storage URL (``u:pw@h``: the scheme forgotten), or ``None``; never shows a password.

    A storage is ``scheme://...``: ``postgresql://user:password@host/db``,
    ``sqlite:///path/study.db`` or ``journal:///path/study.journal``. A value without
    ``scheme://`` would be read by no driver (or, worse, as a file name).
    """
    scheme, sep, _ = url.partition("://")
    if sep and scheme and all(c.isalnum() or c in "+-." for c in scheme):
        return None
    shown = f"{HIDDEN}@{url.rpartition('@')[2]}" if "@" in url else url
    return (f"{shown!r} is not a storage URL (scheme://...): write postgresql://user:password@host/db, "
            "sqlite:///path/study.db or journal:///path/study.journal")


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
        if secret_key(key):
            values.extend([value] if isinstance(value, str) else list(value))
    forms = {form for v in values if v for form in (v, quote(v, safe=""), quote_plus(v))}
    return sorted(forms, key=len, reverse=True)  # longest first: no partial replacement


def hide_password(url: str | None) -> str:
    """``url`` as it may be shown: the password (and password query values) as ``***``."""
    if not url:
        return url or ""
    parsed = _parse(url)
    if parsed is None:
        if "://" not in url and "@" in url:  # not a URL at all (the scheme forgotten): no credentials shown either
            return f"{HIDDEN}@{url.rpartition('@')[2]}"
        if "://" in url and "@" in url.partition("://")[2] and not url.startswith("journal://"):
            # Not a URL SQLAlchemy reads (it would refuse to open it too): show no credentials at all.
            scheme, _, rest = url.partition("://")
            return f"{scheme}://{HIDDEN}@{rest.rpartition('@')[2]}"
        return url
    query = {k: (HIDDEN if secret_key(k) else v) for k, v in parsed.query.items()}
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
