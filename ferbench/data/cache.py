"""Decoded-array cache and source fingerprints.

A source is decoded once into a :class:`RawData` and stored under a key made of the
*content* of its files and the preprocessing (image size, colour, bad-sample policy).
Content hashes are what makes a fingerprint mean the same data on every machine, but
hashing 290k AffectNet files on every start would cost more than it saves; so a small
index maps a cheap *stat key* (paths, sizes, mtimes) to the content digest computed
on the first decode. Touch or replace a file and its stat key changes: the source is
decoded and hashed again.

The images are one uint8 ``x.npy`` per source, opened memory-mapped (``np.load(...,
mmap_mode="r")``): a second load takes milliseconds whatever the size, and only the
pages a split or a batch reads come into memory. An entry is written into a
temporary folder and renamed into place whole, so a load that was interrupted
leaves nothing that a later load would take for a cache entry.

What a load writes before it is complete (``.spill-*``, ``.split-*``, ``.raw-*``, ``.old-*``,
``index/.index-*``) is named after its writer (process id and host, see
:mod:`ferbench.data.unfinished`); a load killed before it could clean up (SIGKILL, power loss)
leaves them behind, and the next load of the cache folder removes those whose writer is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ferbench.data.core import RawData
from ferbench.data.names import relative
from ferbench.data.unfinished import writer_prefix

#: Bump when the decoded arrays would change for the same inputs (resize method, crop).
FORMAT = "ferbench-data-1"
#: The stat key's own format (a change only costs one more decode of each source).
STAT_FORMAT = "stat-2"


def cache_root(configured: str | None) -> Path:
    """The cache folder: the spec's ``dataset.cache``, else ``$FERBENCH_CACHE``, else ``~/.cache/ferbench``."""
    if configured:
        return Path(os.path.expandvars(os.path.expanduser(configured)))
    env = os.environ.get("FERBENCH_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "ferbench"


def sha256_hex(*parts: object) -> str:
    """sha256 of a JSON rendering of ``parts`` (stable key order)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def stat_key(files: Sequence[str | Path], root: Path) -> str:
    """A cheap key of a file set: relative path, size and mtime of each file.

    Built from strings and packed arrays, not per-file objects: 290,000 files take well
    under a second when their metadata is in the operating system's cache.
    """
    prefix = os.path.join(str(root), "")
    names = sorted(relative(files, root))
    n = len(names)
    sizes, mtimes = np.empty(n, np.int64), np.empty(n, np.int64)
    stat = os.stat
    for i, name in enumerate(names):
        try:
            st = stat(prefix + name)
            sizes[i], mtimes[i] = st.st_size, st.st_mtime_ns
        except OSError:  # missing: decoding will say so (or skip it)
            sizes[i] = mtimes[i] = -1
    h = hashlib.sha256(f"{STAT_FORMAT}\0{root.resolve()}\0{n}\0".encode())
    h.update("\0".join(names).encode("utf-8", "surrogateescape"))
    h.update(sizes.tobytes())
    h.update(mtimes.tobytes())
    return h.hexdigest()


def known_digest(cache: Path, key: str) -> str | None:
    """The content digest recorded for a stat key, or ``None``."""
    try:
        content = json.loads((cache / "index" / f"{key}.json").read_text())["content"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return content if isinstance(content, str) else None


def remember_digest(cache: Path, key: str, digest: str) -> str | None:
    """Record ``digest`` for a stat key (atomic).

    Returns why it could not be written, or ``None``: a failure only costs a rehash
    later, so it is the caller's to report, not an error.
    """
    folder = cache / "index"
    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=writer_prefix("index"), suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump({"content": digest}, fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / f"{key}.json")
        tmp = None
    except OSError as exc:
        return _why(exc)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return None


def _why(exc: OSError) -> str:
    """An OSError as a short reason naming the file: ``/c/raw-1: Permission denied``."""
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


def load_raw(cache: Path, key: str) -> RawData | None:
    """The cached :class:`RawData` for ``key``, or ``None`` when absent or unreadable."""
    folder = cache / f"raw-{key}"
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            return None
        x = np.load(folder / "x.npy", mmap_mode="r", allow_pickle=False)  # opened, not read: any size in milliseconds
        with np.load(folder / "arrays.npz", allow_pickle=False) as arr:
            labels, groups, hashes, rows = arr["labels"], arr["groups"], arr["hashes"], arr["rows"]
            subjects = arr["subjects"] if "subjects" in arr.files else np.zeros(0, str)
            attributes = {k[5:]: arr[k] for k in arr.files if k.startswith("attr_")}
            names = arr["names"] if "names" in arr.files else np.zeros(0, str)
            blank = arr["blank"] if "blank" in arr.files else np.zeros(0, bool)
    except (OSError, ValueError, KeyError):
        return None
    return RawData(
        x=x, labels=labels, groups=groups, hashes=hashes, rows=rows,
        label_names=tuple(meta["label_names"]), group_names=tuple(meta["group_names"]),
        source=meta["source"], skipped=int(meta["skipped"]), warnings=tuple(meta["warnings"]),
        dropped={k: int(v) for k, v in meta["dropped"].items()}, total=int(meta["total"]), faces=meta.get("faces", {}),
        subjects=subjects, attributes=attributes, names=names, blank=blank,
    )


def save_raw(cache: Path, key: str, raw: RawData, *, replace: bool = False) -> str | None:
    """Store ``raw`` under ``key``: written into a temporary folder, then renamed in whole.

    Two processes decoding the same source at once both write; the first rename wins
    and the other's copy is discarded. Failing to write (read-only disk, full disk)
    is not an error: the data is in memory, only the next load is slower. Returns why
    it could not be written, or ``None`` (also when another process wrote it first).
    ``replace``: an entry already there (written before image names were kept) is replaced.
    """
    target = cache / f"raw-{key}"
    if target.exists() and not replace:
        return None
    tmp: Path | None = None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{writer_prefix('raw')}{key[:12]}.", dir=cache))
        tmp.chmod(0o755)  # mkdtemp makes it private; a shared cache should be readable
        _store_x(raw.x, tmp / "x.npy")
        arrays = {"labels": raw.labels, "groups": raw.groups, "hashes": raw.hashes, "rows": raw.rows, "subjects": raw.subjects,
                  "names": raw.names, "blank": raw.blank}
        arrays.update({f"attr_{k}": v for k, v in raw.attributes.items()})
        np.savez(tmp / "arrays.npz", allow_pickle=False, **arrays)
        meta = {
            "format": FORMAT, "label_names": list(raw.label_names), "group_names": list(raw.group_names),
            "source": raw.source, "skipped": raw.skipped, "warnings": list(raw.warnings), "dropped": raw.dropped,
            "total": raw.total, **({"faces": raw.faces} if raw.faces else {}),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if replace and target.exists():
            old = cache / f"{writer_prefix('old')}{key[:12]}"
            os.rename(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, target)  # atomic for a folder; fails if another writer got there first
        tmp = None
    except OSError as exc:
        if not (target / "meta.json").exists():  # else another writer got there first: fine
            return _why(exc)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return None


def _store_x(x: np.ndarray, path: Path) -> None:
    """Write the images as ``path``: a decoded array that already lives in a spill file of the
    cache folder is moved there (no copy), any other is saved."""
    from ferbench.data.images import spilled

    spill = spilled(x)
    if spill is not None and spill.parent == path.parent.parent:
        assert isinstance(x, np.memmap)
        x.flush()
        os.chmod(spill, 0o644)
        os.rename(spill, path)
    else:
        np.save(path, x, allow_pickle=False)


def image_hashes(x: np.ndarray) -> np.ndarray:
    """A 64-bit content hash per image (blake2b of its bytes), for exact-duplicate counts."""
    flat = np.ascontiguousarray(x).reshape(len(x), int(np.prod(x.shape[1:], dtype=np.int64)))
    out = np.empty(len(x), dtype=np.uint64)
    for i, row in enumerate(flat):
        out[i] = int.from_bytes(hashlib.blake2b(row.data, digest_size=8).digest(), "little")
    return out
