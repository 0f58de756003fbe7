"""The FER2013 Kaggle CSV (``emotion,pixels,Usage``; plain, .gz or .zip), parsed fast.

The naive parse (pandas, then ``str.split`` per row) spends its time creating 83
million Python strings. Here the decompressed bytes never become Python objects:
each chunk of whole lines is viewed as a uint8 array and parsed with a handful of
vectorised passes (digit mask, token ends, place values), while a second thread
inflates the next chunk (zlib releases the GIL). The same passes check every row:
field count, non-numeric characters, pixel count, values above 255.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import queue
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from ferbench.data.core import RawData
from ferbench.data.names import csv_names
from ferbench.errors import DataError

CHUNK = 1 << 20  # compressed bytes per read (~3 MB of text): the passes stay in cache
_PAD = 4  # spaces put before each chunk so e-1, e-2, e-3 never wrap around
#: FER2013's ``Usage`` values (matched case-insensitively); rows with another are skipped.
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
#: Characters of a field shown in a message before it is cut.
EXCERPT = 24


def excerpt(value: str, limit: int = EXCERPT) -> str:
    """``value`` quoted, cut to ``limit`` characters with its length said (a pixel string has thousands)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


def _chunks(path: Path, raw: bytes) -> Iterator[bytes]:
    """Decompressed chunks of the file's text (any split points)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        for i in range(0, len(raw), CHUNK):
            yield dec.decompress(raw[i : i + CHUNK])
        yield dec.flush()
        if not dec.eof:
            raise EOFError("compressed stream ends early")
    elif name.endswith(".zip"):
        import io

        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith(".csv") and not m.startswith("__MACOSX")]
            if not members:
                raise DataError(f"{path}: the zip holds no .csv file; expected fer2013.csv inside")
            members.sort(key=lambda m: ("fer2013" not in m.lower(), len(m)))
            with zf.open(members[0]) as fh:
                while block := fh.read(CHUNK * 4):
                    yield block
    else:
        for i in range(0, len(raw), CHUNK * 4):
            yield raw[i : i + CHUNK * 4]


def _threaded(it: Iterator[bytes]) -> Iterator[bytes]:
    """Run ``it`` in a thread, a few chunks ahead of the consumer."""
    q: queue.Queue[object] = queue.Queue(maxsize=3)
    done = object()

    def work() -> None:
        try:
            for block in it:
                q.put(block)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)
        q.put(done)

    threading.Thread(target=work, daemon=True).start()
    while (item := q.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield cast(bytes, item)


def _lines(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Re-cut blocks so each holds whole lines, padded in front with _PAD spaces.

    One copy per block: the pad, the previous block's tail and this block's lines
    are joined at once (the parser needs the pad; see _parse).
    """
    pad = b" " * _PAD
    pending = b""
    for block in blocks:
        cut = block.rfind(b"\n") + 1
        if not cut:
            pending += block
            continue
        yield b"".join((pad, pending, memoryview(block)[:cut]))
        pending = block[cut:]
    if pending.strip():
        yield pad + pending + b"\n"


@dataclass
class _Layout:
    """Where the columns are; ``side`` is the image side (48 for FER2013)."""

    cols: dict[str, int]
    ncols: int
    side: int = 0


@dataclass
class _Chunk:
    """One parsed chunk; line numbers are local (0 = first line of the chunk)."""

    nlines: int
    images: np.ndarray
    lines: np.ndarray
    emotions: list[str] = field(default_factory=list)
    usages: list[str] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)


def _header(path: Path, buf: bytes) -> tuple[_Layout, bytes]:
    nl = buf.find(b"\n")
    if nl < 0:
        raise DataError(f"{path}: not a FER2013 CSV (no line ends); expected a header emotion,pixels,Usage")
    head = buf[:nl].decode("utf-8", "replace").strip().lstrip("\ufeff")  # pad spaces, byte-order mark
    names = [c.strip().strip('"').strip().lower() for c in head.split(",")]
    if "emotion" not in names or "pixels" not in names:
        shown = ", ".join(excerpt(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        raise DataError(
            f"{path}:1: columns [{shown}] are not the FER2013 CSV's; expected a header "
            "emotion,pixels,Usage (Usage optional). Is this the Kaggle fer2013.csv?"
        )
    cols: dict[str, int] = {n: names.index(n) for n in ("emotion", "pixels", "usage") if n in names}
    return _Layout(cols, len(names)), b" " * _PAD + buf[nl + 1 :]


def _parse(buf: bytes, lay: _Layout) -> _Chunk:
    """Parse whole lines (after _PAD spaces); pure, so chunks can be parsed in parallel threads."""
    if b'"' in buf:  # quoted fields: FER2013 fields never hold commas, so quotes can go
        buf = buf.replace(b'"', b"")
    if b"\r" in buf:
        buf = buf.replace(b"\r", b"")
    a = np.frombuffer(buf, dtype=np.uint8)  # starts with _PAD spaces (see _lines)
    d = a - np.uint8(48)
    isd = d < 10
    special = np.flatnonzero(~isd & (a != 32))  # commas, newlines, letters, '-', '.'
    sval = a[special]
    ends_nl = special[sval == 10]
    starts = np.concatenate(([_PAD], ends_nl[:-1] + 1))
    commas = special[sval == 44]
    first = np.searchsorted(commas, starts)
    ncomma = np.searchsorted(commas, ends_nl) - first
    out = _Chunk(len(starts), np.zeros((0, lay.side, lay.side, 1), np.uint8), np.zeros(0, np.int64))
    nonempty = ends_nl > starts
    ok = nonempty & (ncomma == lay.ncols - 1)
    for r in np.flatnonzero(nonempty & ~ok):
        out.bad.append((int(r), f"has {ncomma[r] + 1} fields, expected {lay.ncols}"))
    rows = np.flatnonzero(ok)
    if not len(rows):
        return out
    c0 = first[rows]

    def span(col: int) -> tuple[np.ndarray, np.ndarray]:
        lo = starts[rows] if col == 0 else commas[c0 + col - 1] + 1
        hi = ends_nl[rows] if col == lay.ncols - 1 else commas[c0 + col]
        return lo, hi

    ps, pe = span(lay.cols["pixels"])
    # A special byte inside a pixel field is a non-numeric character.
    nspecial = np.searchsorted(special, pe) - np.searchsorted(special, ps)
    # Token ends are found relative to offset _PAD, so the digits before each end are
    # gathers from shifted views with the same index array (no index arithmetic).
    ends = np.flatnonzero(isd[_PAD:-1] > isd[_PAD + 1 :])
    lo, hi = np.searchsorted(ends, ps - _PAD), np.searchsorted(ends, pe - _PAD)
    count = hi - lo
    npx = lay.side * lay.side
    i1 = isd[_PAD - 1 :][ends]
    i12 = i1 & isd[_PAD - 2 :][ends]
    val = d[_PAD:][ends].astype(np.uint16)
    val += d[_PAD - 1 :][ends] * i1 * np.uint16(10)
    val += d[_PAD - 2 :][ends] * i12 * np.uint16(100)
    badtok = np.flatnonzero((i12 & isd[_PAD - 3 :][ends]) | (val > 255))  # 4+ digits or > 255
    ntoobig = np.searchsorted(badtok, hi) - np.searchsorted(badtok, lo)
    good = (nspecial == 0) & (count == npx) & (ntoobig == 0)
    for i in np.flatnonzero(~good):
        if nspecial[i]:
            ch = chr(a[special[np.searchsorted(special, ps[i])]])
            msg = f"pixels holds a non-numeric character {ch!r}"
        elif count[i] != npx:
            msg = f"pixels has {count[i]} values, expected {npx} ({lay.side}x{lay.side})"
        else:
            msg = "pixels has a value outside 0..255"
        out.bad.append((int(rows[i]), msg))
    keep = np.flatnonzero(good)
    out.images = _pixel_block(val, lo[keep], npx).reshape(-1, lay.side, lay.side, 1)
    out.lines = rows[keep]
    es, ee = span(lay.cols["emotion"])
    out.emotions = [a[s:e].tobytes().decode("ascii", "replace").strip() for s, e in zip(es[keep], ee[keep], strict=True)]
    if "usage" in lay.cols:
        us, ue = span(lay.cols["usage"])
        out.usages = [a[s:e].tobytes().decode("utf-8", "replace").strip() for s, e in zip(us[keep], ue[keep], strict=True)]
    else:
        out.usages = ["all"] * len(keep)
    return out


def _pixel_block(val: np.ndarray, lo: np.ndarray, npx: int) -> np.ndarray:
    """The ``npx`` tokens from each ``lo``, as a uint8 (rows, npx) array.

    In a clean file the pixel runs sit at a fixed stride (the other columns add the
    same number of tokens to every row), so one reshape does it; otherwise a mask.
    """
    if not len(lo):
        return np.zeros((0, npx), np.uint8)
    gaps = np.diff(lo)
    if len(gaps) == 0 or (gaps == gaps[0]).all() and gaps[0] >= npx:
        stride = int(gaps[0]) if len(gaps) else npx
        end = lo[0] + stride * len(lo)
        block = val[lo[0] : end] if end <= len(val) else np.concatenate([val[lo[0] :], np.zeros(end - len(val), val.dtype)])
        return block.reshape(len(lo), stride)[:, :npx].astype(np.uint8)
    marks = np.zeros(len(val) + 1, np.int8)
    marks[lo] += 1
    marks[lo + npx] -= 1
    picked: np.ndarray = val[np.cumsum(marks[:-1], dtype=np.int8).astype(bool)].astype(np.uint8).reshape(-1, npx)
    return picked


def _infer_side(buf: bytes, lay: _Layout) -> int:
    """The image side from the first data line (48 for FER2013)."""
    line = buf[: buf.find(b"\n")].replace(b'"', b"").split(b",")
    n = len(line[lay.cols["pixels"]].split()) if len(line) == lay.ncols else 0
    return math.isqrt(n) if n and math.isqrt(n) ** 2 == n else 48


def _parse_all(path: Path, raw: bytes) -> tuple[list[_Chunk], list[int], _Layout]:
    """Parse every chunk, two at a time (numpy releases the GIL), in file order."""
    from concurrent.futures import ThreadPoolExecutor

    lines = _lines(_threaded(_chunks(path, raw)))
    first = next(lines, None)
    if first is None:
        raise DataError(f"{path}: the file is empty; expected the FER2013 CSV (emotion,pixels,Usage)")
    lay, rest = _header(path, first)
    lay.side = _infer_side(rest, lay)
    chunks: list[_Chunk] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(_parse, rest, lay)]
        for buf in lines:
            pending.append(pool.submit(_parse, buf, lay))
            while len(pending) > 3:  # bound the text held in memory
                chunks.append(pending.pop(0).result())
        chunks += [f.result() for f in pending]
    # Line number of each chunk's first line, minus one (the header is line 1).
    offsets = np.cumsum([1] + [c.nlines for c in chunks[:-1]]).tolist()
    return chunks, offsets, lay


def read_fer2013_csv(path: Path, num_labels: int = 7) -> tuple[RawData, str, list[tuple[int, str]]]:
    """Parse a FER2013 CSV into :class:`RawData` (48×48 grayscale as in the file).

    Returns the data, the sha256 of the file's bytes, and the bad rows as
    ``(line, problem)``; the caller decides whether they are fatal.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the FER2013 CSV ({exc.strerror}); check dataset.path") from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        chunks, offsets, lay = _parse_all(path, raw)
    except (zlib.error, zipfile.BadZipFile, gzip.BadGzipFile, EOFError) as exc:
        raise DataError(f"{path}: the file is corrupt or truncated ({exc}); download it again") from None
    bad = [(off + 1 + ln, msg) for c, off in zip(chunks, offsets, strict=True) for ln, msg in c.bad]
    lines = np.concatenate([c.lines + off + 1 for c, off in zip(chunks, offsets, strict=True)])
    emo = np.array([e for c in chunks for e in c.emotions], dtype=str)
    # One spelling per FER2013 split, so "training" rows join Training.
    spelling = {u.lower(): u for u in USAGES} if "usage" in lay.cols else {}
    usages = np.array([spelling.get(u.lower(), u) for c in chunks for u in c.usages], dtype=str)
    codes = [str(i) for i in range(num_labels)]
    valid = np.isin(emo, codes)
    for i in np.flatnonzero(~valid):
        bad.append((int(lines[i]), f"emotion {excerpt(str(emo[i]))} is not a label 0..{num_labels - 1}"))
    total = len(valid) + sum(len(c.bad) for c in chunks)
    if not total:
        raise DataError(f"{path}: the header has no data rows after it; expected the FER2013 CSV's 35,887 rows (emotion,pixels,Usage)")
    warnings: tuple[str, ...] = ()
    unknown = valid & ~np.isin(usages, USAGES) if spelling else np.zeros(len(usages), bool)
    if unknown.any():
        shown = ", ".join(f"{path.name}:{lines[i]} {excerpt(str(usages[i]))}" for i in np.flatnonzero(unknown)[:3])
        more = " ..." if unknown.sum() > 3 else ""
        warnings = (
            f"skipped {int(unknown.sum())} row(s) whose Usage is not one of {', '.join(USAGES)}: {shown}{more}; "
            "fix their Usage to load them",
        )
    keep = valid & ~unknown
    x = np.concatenate([c.images for c in chunks])
    if not keep.all():
        x, emo, usages, lines = x[keep], emo[keep], usages[keep], lines[keep]
    names, first, inverse = np.unique(usages, return_index=True, return_inverse=True)
    order = np.argsort(first)  # keep the file's order: Training, PublicTest, PrivateTest
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group_names = tuple(str(n) for n in names[order])
    data = RawData(
        x=x,
        labels=emo.astype(np.int16),
        groups=rank[inverse].astype(np.int16),
        hashes=np.zeros(0, np.uint64),
        label_names=tuple(str(i) for i in range(num_labels)),
        group_names=group_names,
        source=f"FER2013 Kaggle CSV ({path.name})",
        rows=lines - 2,  # line 2 is data row 0 (FER2013 has no blank lines)
        names=csv_names(rank[inverse], group_names, lines - 2),
        total=total,
        skipped=int(unknown.sum()),
        warnings=warnings,
    )
    bad.sort()
    return data, digest, bad
