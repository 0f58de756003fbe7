"""A study storage that the disk refuses (full, read-only, failing): one line naming it, not Optuna's traceback.

SQLite says "database or disk is full"; SQLAlchemy wraps that, Optuna wraps it again
in ``StorageInternalError`` and, when it happens inside ``study.optimize``'s tell,
replaces it with its own ``AssertionError("Should not reach.")``. The disk's reason is
found anywhere in the chain of causes and told as one :class:`ResultsError`.
"""

from __future__ import annotations

import os

from ferbench.errors import ResultsError
from ferbench.results.disk import disk_reason, exception_chain
from ferbench.run.search.storage import journal_path, sqlite_path
from ferbench.secrets import hide_password

#: Where a study's writes fail: Optuna's storages and the database drivers under them.
_STORAGE_MODULES = frozenset({"optuna", "sqlalchemy", "sqlite3", "psycopg", "psycopg2"})


def _from_storage(chain: list[BaseException]) -> bool:
    """Whether the failure came out of the storage layer (its exception types, or Optuna's code on the way)."""
    for e in chain:
        if type(e).__module__.split(".")[0] in _STORAGE_MODULES:
            return True
        tb = e.__traceback__
        while tb is not None:
            if f"{os.sep}optuna{os.sep}storages{os.sep}" in tb.tb_frame.f_code.co_filename:
                return True
            tb = tb.tb_next
    return False


def shown_storage(url: str) -> str:
    """The storage as a user finds it: the file of SQLite and journal storages, else the URL without its password."""
    path = sqlite_path(url) or journal_path(url)
    return str(path) if path is not None else hide_password(url)


def storage_failure(exc: BaseException, url: str | None) -> ResultsError | None:
    """``exc`` as one line naming the study's storage and the disk's reason; None when it is no disk failure."""
    reason = disk_reason(exc)
    if reason is None or not _from_storage(exception_chain(exc)):
        return None
    where = f"the study {shown_storage(url)}" if url else "the study"
    return ResultsError(f"cannot write {where}: {reason}; free space (or make it writable), then run the same command "
                        "again: finished trials are kept (the records on disk are the truth)")
