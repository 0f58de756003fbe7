"""Test-time augmentation: the views of an image a model is asked about, and the mean of its answers.

- ``flip``: the image and its mirror (left-right), as :data:`ferbench.spec.types.AugmentSpec`'s
  horizontal flip makes during training;
- ``ten_crop``: the four corner crops and the centre crop, each ``crop`` of the side,
  and their mirrors (torchvision's ``TenCrop``), each resized back to the model's input
  with the resize the data pipeline uses (Pillow, bilinear), since ferbench's models
  take one input size.

The prediction is the mean of the class probabilities over the views. Views are
uint8 arrays like the splits themselves, so whatever predicts on a split predicts on
a view. A split is worked on a chunk of images at a time (all views of a chunk, then the
next), so a memory-mapped split is never copied whole. Numpy and Pillow only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

#: The methods of ``evaluate.tta`` that augment (``none`` does not).
METHODS = ("flip", "ten_crop")


def mirror(x: np.ndarray) -> np.ndarray:
    """Left-right mirror of a batch N×H×W×C."""
    return np.ascontiguousarray(x[:, :, ::-1, :])


def crops(x: np.ndarray, crop: float) -> Iterator[np.ndarray]:
    """The four corner crops (top-left, top-right, bottom-left, bottom-right) and the centre crop of side ``crop`` x side, resized back."""
    from ferbench.data.images import resize_array

    h, w = x.shape[1:3]
    ch, cw = max(1, int(round(crop * h))), max(1, int(round(crop * w)))
    top, left = (h - ch) // 2, (w - cw) // 2
    for r, c in ((0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), (top, left)):
        part = np.ascontiguousarray(x[:, r:r + ch, c:c + cw, :])
        yield resize_array(part, h) if (ch, cw) != (h, w) else part


def views(x: np.ndarray, method: str, crop: float = 0.875) -> Iterator[np.ndarray]:
    """The views ``method`` averages over, one batch at a time."""
    if method == "flip":
        yield x
        yield mirror(x)
    elif method == "ten_crop":
        for part in crops(x, crop):
            yield part
            yield mirror(part)
    else:
        raise ValueError(f"no test-time augmentation {method!r}; choose one of {', '.join(METHODS)}")


def tta_proba(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, method: str, crop: float = 0.875,
              rows: int | None = None) -> np.ndarray:
    """Mean class probabilities of ``predict`` over the views of ``x`` (float32, N×K), ``rows`` images at a time
    (default: all of an in-memory ``x`` at once, a memory-mapped one by chunks). Chunks of a multiple of
    ``predict``'s batch size give the numbers of one pass."""
    from ferbench.data.memory import chunk_rows, chunks, is_mapped

    if rows is None:
        rows = chunk_rows(x.shape, itemsize=4) if is_mapped(x) else max(1, len(x))
    parts = [_mean_over_views(predict, part, method, crop) for _, part in chunks(x, rows)]
    if not parts:
        return _mean_over_views(predict, x[:0], method, crop)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _mean_over_views(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, method: str, crop: float) -> np.ndarray:
    total: np.ndarray | None = None
    n = 0
    for view in views(x, method, crop):
        p = np.asarray(predict(view), dtype=np.float64)
        total = p if total is None else total + p
        n += 1
    assert total is not None
    return (total / n).astype(np.float32)
