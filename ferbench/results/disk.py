"""Writes the disk refused (full, over quota, read-only, failing): told to the user, who can fix them.

Libraries wrap the disk's ``OSError`` in their own errors (SQLite's "database or disk is
full", TensorFlow's status errors); :func:`disk_reason` finds the reason anywhere in
the chain of causes, so each caller can say it in one line naming its path.
"""

from __future__ import annotations

import errno
import os

#: Write failures that are the disk's, not the program's.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO})

#: What libraries and drivers say for those failures (SQLite, PostgreSQL, TensorFlow), and the reason shown.
_PHRASES = (
    ("database or disk is full", errno.ENOSPC),
    ("No space left on device", errno.ENOSPC),
    ("attempt to write a readonly database", errno.EROFS),
    ("Read-only file system", errno.EROFS),
    ("disk I/O error", errno.EIO),
)


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it came from (``__cause__``, ``__context__``), each once."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        e = todo.pop()
        if any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]
    return seen


def disk_reason(exc: BaseException) -> str | None:
    """The disk's reason (``No space left on device``) if ``exc`` or an exception it came from is a refused write.

    None for a stop (``KeyboardInterrupt``) and for a user error already told in its own words.
    """
    from ferbench.errors import FerbenchError

    for e in exception_chain(exc):
        if isinstance(e, (KeyboardInterrupt, FerbenchError)):
            return None
        if isinstance(e, OSError) and e.errno in DISK_ERRNOS:
            return os.strerror(e.errno)
        text = str(e)
        for phrase, code in _PHRASES:
            if phrase in text:
                return os.strerror(code)
    return None
