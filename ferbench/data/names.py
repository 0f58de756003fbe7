"""Image names: a stable name for every loaded sample, and subsets chosen by a list of names.

A name is what a person would write in a list of images (the Occlusion- and
Pose-RAF-DB lists, an attributes CSV), and the same on every load and machine:

- FER2013 Kaggle CSV: ``<Usage>/<data row>``, the row counted from 0 after the
  header (``PrivateTest/32298``); FER+ relabelled faces keep their FER2013 row;
- class folders and released layouts: the image's path below the dataset folder
  (``test/angry/im12.png``), RAF-DB basic the label list's name (``test_0001.jpg``);
- synthetic faces: ``<split>/<index in the split>`` (``test/17``).

A file that gives several faces (boxes of ExpW, ``dataset.faces``) names the second
``<name>#2``, the third ``#3``. A list entry matches a name whole, or its file name
(the part after the last ``/``), or that file name without its extension, when only
one image has it. No TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ferbench.errors import DataError

#: Unknown names shown in an error before "... and N more".
SHOWN = 5


def unique(names: Sequence[str]) -> np.ndarray:
    """``names`` with the second, third ... occurrence of a name suffixed ``#2``, ``#3`` ..."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return np.asarray(out, dtype=str)


def relative(paths: Sequence[str | os.PathLike[str]], root: Path) -> list[str]:
    """Each path below ``root``, with ``/`` separators (a string prefix cut where the path
    starts with ``root`` as given, as listed datasets' paths do: no per-path ``relpath``)."""
    prefix = str(root).rstrip(os.sep) + os.sep
    out = []
    for p in paths:
        s = os.fspath(p)
        out.append((s[len(prefix):] if s.startswith(prefix) and ".." not in s else os.path.relpath(s, root)).replace(os.sep, "/"))
    return out


def csv_names(groups: np.ndarray, group_names: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """``<Usage>/<data row>`` of each FER2013 CSV sample."""
    usage = np.asarray(group_names, dtype=str)[np.asarray(groups, dtype=np.int64)] if len(groups) else np.zeros(0, str)
    return np.asarray([f"{u}/{int(r)}" for u, r in zip(usage.tolist(), np.asarray(rows).tolist(), strict=True)], dtype=str)


def read_list(path: Path) -> list[str]:
    """The names of a list file: one per line; blank lines and ``#`` comments skipped; anything
    after the first space or tab ignored (a label column, as RAF-DB's lists have)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise DataError(f"{path}: cannot read the list of images ({why}); check evaluate.on[].images") from None
    names = [ln.split()[0] for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not names:
        raise DataError(f"{path}: the list of images is empty; write one image name per line")
    return names


def lookup(images: Sequence[str]) -> dict[str, int]:
    """Every way an image may be written -> its index; a short form two images share maps to -1."""
    table: dict[str, int] = {}
    for i, name in enumerate(images):
        base = name.rsplit("/", 1)[-1]
        for key in dict.fromkeys((base, base.rsplit(".", 1)[0] if "." in base else base)):
            if key != name:
                table[key] = -1 if key in table and table[key] != i else i
    table.update({name: i for i, name in enumerate(images)})  # a whole name always wins
    return table


def select(images: np.ndarray, wanted: Sequence[str], where: str) -> np.ndarray:
    """Indices into ``images`` of the ``wanted`` names, in the split's order, each once.

    Raises :class:`DataError` naming the first few names that match no image (or
    several), and ``where`` (the list file) to fix.
    """
    if not len(images):
        raise DataError(f"{where}: this dataset's loader gives its images no names, so a list cannot select from it")
    table = lookup([str(n) for n in images.tolist()])
    unknown = [w for w in wanted if table.get(w, -1) < 0]
    if unknown:
        shared = [w for w in unknown if table.get(w) == -1]
        shown = ", ".join(repr(w) for w in unknown[:SHOWN]) + (f" ... and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else "")
        hint = (f" ({', '.join(repr(w) for w in shared[:SHOWN])} match several images: write the whole name)" if shared else "")
        raise DataError(
            f"{where}: {len(unknown)} of {len(wanted)} listed image(s) name no single image of the split: {shown}{hint}. "
            f"Names look like {str(images[0])!r}; fix the list or the split it selects from"
        )
    return np.unique(np.asarray([table[w] for w in wanted], dtype=np.int64))
