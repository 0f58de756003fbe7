"""The storage URL of a job's tasks: in a file only its owner can read, never in a script or an environment.

``ferbench submit`` keeps the URL (with its password) in
``$XDG_CONFIG_HOME/ferbench/storage/<run id>.url`` (``~/.config/...``; mode 0600 in
a 0700 folder), or uses a file the user names (``--storage-file``). The job's script
and its tasks' environment hold only the file's path (``$FERBENCH_STORAGE_FILE``),
and every variable of the submitting environment whose value holds the password is
left out of the job's environment.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from ferbench.cluster.jobs import STORAGE_FILE_VAR
from ferbench.errors import FerbenchError
from ferbench.secrets import hide_password, redact, remember


def secrets_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ferbench" / "storage"


def url_file(run_id: str) -> Path:
    """Where ``ferbench submit`` keeps a run's storage URL."""
    return secrets_dir() / f"{run_id}.url"


def store_url(url: str, run_id: str) -> Path:
    """Write ``url`` to :func:`url_file`, readable only by this user; return the path."""
    path = url_file(run_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (url + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_url(path: Path) -> str:
    """The URL in a storage file; refused when others than its owner may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise FerbenchError(f"storage file {path}: cannot read it ({exc.strerror}); "
                            "`ferbench submit` writes it, or name your own with --storage-file") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise FerbenchError(f"storage file {path}: others can read it (mode {stat.S_IMODE(mode):o}); "
                            f"make it private with: chmod 600 {path}")
    if not text:
        raise FerbenchError(f"storage file {path} is empty: write the storage URL into it")
    remember(text)
    return text


def url_from_environment(env: Mapping[str, str] | None = None) -> str | None:
    """``$FERBENCH_STORAGE``, else the URL in ``$FERBENCH_STORAGE_FILE``, else ``None``."""
    env = os.environ if env is None else env
    if env.get("FERBENCH_STORAGE"):
        return env["FERBENCH_STORAGE"]
    file = env.get(STORAGE_FILE_VAR)
    return read_url(Path(file)) if file else None


def job_environment(env: Mapping[str, str], url: str | None) -> dict[str, str]:
    """The environment to submit with: no storage URL, and no variable whose value holds its password."""
    clean = {k: v for k, v in env.items() if k != "FERBENCH_STORAGE"}
    if url and hide_password(url) != url:
        clean = {k: v for k, v in clean.items() if redact(v, url) == v}
    return clean
