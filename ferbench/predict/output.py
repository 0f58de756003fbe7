"""``ferbench predict``'s results as JSON, CSV or a text table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from ferbench.predict.loader import LoadedModel
from ferbench.predict.score import ImagePrediction


def as_json(model: LoadedModel, results: Sequence[ImagePrediction]) -> str:
    """Every readable image with its faces, and the unreadable files with why."""
    doc = {
        "model": str(model.file), "run": None if model.run_dir is None else str(model.run_dir), "trial": model.trial,
        "runtime": model.runtime, "input": {"size": model.image_size, "color": model.color}, "classes": list(model.classes),
        **({"export": model.export.to_dict()} if model.export is not None else {}),
        "images": [{"file": str(r.path), "faces": [f.to_dict(model.classes) for f in r.faces]} for r in results if r.error is None],
        "unreadable": [{"file": str(r.path), "why": r.error} for r in results if r.error is not None],
    }
    return json.dumps(doc, indent=1) + "\n"


def as_csv(model: LoadedModel, results: Sequence[ImagePrediction]) -> str:
    """One row per face (an image without a face: one row without a class); unreadable files are left out."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "face", "x", "y", "width", "height", "class", *model.classes])
    for r in results:
        if r.error is not None:
            continue
        if not r.faces:
            w.writerow([str(r.path), "", "", "", "", "", "", *([""] * len(model.classes))])
        for n, f in enumerate(r.faces):
            box = ["", "", "", ""] if f.face is None else [f"{v:.1f}" for v in f.face.box]
            w.writerow([str(r.path), n, *box, f.label, *(f"{float(p):.8g}" for p in f.probabilities)])
    return buf.getvalue()


def as_text(model: LoadedModel, results: Sequence[ImagePrediction]) -> list[tuple[str, str, str, str]]:
    """Rows of (file, face box, class, probability) for a table."""
    rows = []
    for r in results:
        if r.error is not None:
            continue
        if not r.faces:
            rows.append((str(r.path), "no face found", "", ""))
        for f in r.faces:
            box = "whole image" if f.face is None else "{:.0f},{:.0f} {:.0f}x{:.0f}".format(*f.face.box)
            rows.append((str(r.path), box, f.label, f"{float(f.probabilities.max()):.3f}"))
    return rows
