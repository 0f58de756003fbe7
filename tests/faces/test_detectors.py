"""The detectors on real FER2013 faces pasted at known places into generated scenes (some turned 15°).

The detected boxes must match the pasted ones (IoU >= 0.5) for the large majority;
MTCNN's eyes must show the tilt of a turned face; the faces stage must count images
with no face, skip an unreadable file, and read its detections back from the cache
unless the detector's settings change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scenes import empty_scene, scene

pytest.importorskip("cv2", reason="the face detectors are the [faces] extra: pip install -e '.[faces]'")

from ferbench.faces.align import crop_face, eye_angle
from ferbench.faces.detect import Face, iou, make_detector
from ferbench.faces.stage import crop_files
from ferbench.spec.types import FacesSpec


def _match_rate(detector: str, faces, n_scenes: int) -> tuple[float, list]:
    det = make_detector(detector, 24)
    rng = np.random.default_rng(7)
    hits, total, matched = 0, 0, []
    for i in range(n_scenes):
        sc = scene(faces[3 * i:3 * i + 3], rng, rotate=15.0)
        found = det.detect(np.asarray(sc.image))
        for k, box in enumerate(sc.boxes):
            best = max(found, key=lambda f: iou(box, f.box), default=None)
            total += 1
            if best is not None and iou(box, best.box) >= 0.5:
                hits += 1
                matched.append((k, sc, best))
    return hits / total, matched


def test_haar_finds_most_pasted_faces(real_faces) -> None:
    rate, _ = _match_rate("haar", real_faces, 6)  # 18 faces, 6 of them turned 15 degrees
    assert rate >= 0.7, f"haar matched {rate:.0%} of the pasted faces"


@pytest.mark.slow
def test_mtcnn_finds_most_pasted_faces_and_sees_the_tilt(real_faces) -> None:
    pytest.importorskip("mtcnn", reason="the face detectors are the [faces] extra: pip install -e '.[faces]'")
    rate, matched = _match_rate("mtcnn", real_faces, 2)  # 6 faces: MTCNN is slow on a CPU
    assert rate >= 0.7, f"mtcnn matched {rate:.0%} of the pasted faces"
    assert all(f.eyes is not None for _, _, f in matched)
    # A face turned counter-clockwise by 15 degrees has its eye line tilted by about -15 (plus its own tilt).
    turned = [(eye_angle(f), sc.angles[k]) for k, sc, f in matched if sc.angles[k]]
    assert turned and all(np.sign(a) == -np.sign(t) and abs(a) > 5 for a, t in turned), turned


def test_eye_alignment_levels_the_eyes() -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (200, 200), (128, 128, 128))
    draw = ImageDraw.Draw(im)
    for x, y in ((70, 80), (130, 100)):  # eyes on a line tilted by atan(20/60) = 18.4 degrees
        draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=(0, 0, 0))
    face = Face((50.0, 50.0, 100.0, 100.0), 1.0, ((70.0, 80.0), (130.0, 100.0)))
    assert eye_angle(face) == pytest.approx(18.43, abs=0.01)
    crop = np.asarray(crop_face(im, face, margin=0.0, align="eyes").convert("L"))
    dark = [np.argwhere(crop[:, :50] < 60).mean(axis=0), np.argwhere(crop[:, 50:] < 60).mean(axis=0)]
    assert crop.shape == (100, 100) and abs(dark[0][0] - dark[1][0]) < 1.5  # the eyes' rows now agree
    plain = np.asarray(crop_face(im, face, margin=0.0, align="none").convert("L"))
    assert abs(np.argwhere(plain[:, :50] < 60).mean(axis=0)[0] - np.argwhere(plain[:, 50:] < 60).mean(axis=0)[0]) > 15


def test_the_stage_counts_no_face_skips_unreadable_files_and_caches_detections(real_faces, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    files = []
    for i, faces in enumerate((real_faces[0:3], real_faces[4:5])):
        files.append(tmp_path / f"scene{i}.jpg")
        scene(faces, rng).image.save(files[-1], quality=95)
    files.append(tmp_path / "empty.png")
    empty_scene(rng).save(files[-1])
    files.append(tmp_path / "broken.jpg")
    files[-1].write_bytes(b"\xff\xd8\xff not a jpeg")
    spec = FacesSpec("haar", "none", 0.2, 24, "skip", "all")
    cache = tmp_path / "cache"
    first = crop_files(files, spec, 48, "grayscale", cache_root=cache, progress=False)
    assert first.found[2] == 0 and first.found[3] == -1 and first.found[1] == 1 and first.found[0] >= 2
    assert [i for i, _ in first.bad] == [3] and "corrupt" in first.bad[0][1]
    assert len(first.x) == first.found[0] + 1 and first.x.shape[1:] == (48, 48, 1)
    assert sorted(set(first.source.tolist())) == [0, 1] and (first.detected, first.cached) == (3, 0)
    again = crop_files(files, spec, 48, "grayscale", cache_root=cache, progress=False)
    assert (again.detected, again.cached) == (0, 3) and np.array_equal(again.x, first.x)
    whole = crop_files(files, FacesSpec("haar", "none", 0.2, 24, "whole", "largest"), 48, "grayscale", cache_root=cache, progress=False)
    assert whole.detected == 0 and len(whole.x) == 3 and whole.faces[2] is None  # one face per scene, the empty scene whole
    bigger = crop_files(files, FacesSpec("haar", "none", 0.2, 40, "skip", "all"), 48, "grayscale", cache_root=cache, progress=False)
    assert bigger.detected == 3  # another minimum size is another detector setting: detected afresh
