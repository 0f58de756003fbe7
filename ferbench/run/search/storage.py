"""Optuna storages: SQLite, PostgreSQL and other databases with heartbeats, or a journal file.

Which storage a run uses is decided by the planner and the runner; this module
only opens one for a URL, with the driver it needs and the password kept out of
every error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ferbench._lazy import require
from ferbench.errors import FerbenchError, ResultsError
from ferbench.run.search.accounting import requeue
from ferbench.secrets import hide_password, redact, remember

#: Heartbeats: a RUNNING trial without one for ``GRACE_PERIOD_S`` is declared dead.
#: ``$FERBENCH_HEARTBEAT_S`` and ``$FERBENCH_GRACE_S`` override them (whole seconds).
HEARTBEAT_INTERVAL_S = 30
GRACE_PERIOD_S = 90

def _env_seconds(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = int(value)
    except ValueError:
        raise FerbenchError(f"${name}={value!r}: expected a whole number of seconds") from None
    if seconds < 1:
        raise FerbenchError(f"${name}={value!r}: expected at least 1 second")
    return seconds


def heartbeat_settings() -> tuple[int, int]:
    """``(interval, grace)`` in seconds: the defaults, or the environment's overrides."""
    interval = _env_seconds("FERBENCH_HEARTBEAT_S", HEARTBEAT_INTERVAL_S)
    grace = _env_seconds("FERBENCH_GRACE_S", GRACE_PERIOD_S * interval // HEARTBEAT_INTERVAL_S)
    if grace <= interval:
        raise FerbenchError(f"$FERBENCH_GRACE_S ({grace}) must be longer than the heartbeat interval ({interval})")
    return interval, grace


def journal_path(url: str) -> Path | None:
    """The file of a ``journal://PATH`` URL (``journal:///abs/path`` is absolute); None for others."""
    if not url.startswith("journal://"):
        return None
    return Path(url[len("journal://"):])


def sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///PATH`` URL; None for other URLs and in-memory SQLite."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def sqlalchemy_url(url: str) -> str:
    """``url`` with a PostgreSQL driver SQLAlchemy can load (psycopg 3 when psycopg2 is absent)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql://{rest}"
    require("psycopg")
    return f"postgresql+psycopg://{rest}"


def open_storage(url: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None) -> Any:
    """An Optuna storage for ``url`` with heartbeats and re-queueing of dead trials.

    ``sqlite:///…``, ``postgresql://…`` and other SQLAlchemy URLs give an
    ``RDBStorage`` with heartbeats (:func:`heartbeat_settings` unless given);
    ``journal:///path`` gives Optuna's journal file storage, safe for several
    processes (no heartbeats: the run's lock and the workers' owner locks, see
    :func:`recover_dead`, find its dead trials).
    """
    optuna = require("optuna")
    remember(url)
    jpath = journal_path(url)
    if jpath is not None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        try:
            jpath.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(jpath)))
        except OSError as exc:
            raise ResultsError(f"cannot open study journal {jpath}: {exc.strerror or exc}") from None
    if heartbeat_interval is None or grace_period is None:
        interval, grace = heartbeat_settings()
        heartbeat_interval = interval if heartbeat_interval is None else heartbeat_interval
        grace_period = grace if grace_period is None else grace_period
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Wait for a writer instead of failing at once: another worker may hold the file.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    import warnings

    try:
        from sqlalchemy.exc import IntegrityError, ProgrammingError

        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
                    return optuna.storages.RDBStorage(
                        sqlalchemy_url(url),
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                        heartbeat_stale_trial_callback=requeue,
                    )
            except (IntegrityError, ProgrammingError):
                # Workers that start together on an empty database race to create Optuna's
                # tables; the losers find them made and try again.
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")
    except Exception as exc:  # the driver's message may echo the URL with its password
        if isinstance(exc, FerbenchError):
            raise
        raise ResultsError(f"cannot open study storage {hide_password(url)}: {driver_message(redact(str(exc), url))}") from None


def driver_message(text: str) -> str:
    """A driver's error in one line, without SQLAlchemy's "Background on this error at: <link>" line."""
    lines = [line.strip() for line in text.splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith("(Background on this error at"))
