"""FER+'s four label schemes against a line-by-line transcription of the FERPlus
reference reader (microsoft/FERPlus, ``FERPlusReader._process_data``), on hand-made
votes and on the real ``fer2013new.csv``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ferbench.data.classes import FERPLUS_COLUMNS
from ferbench.data.ferplus import read_votes
from ferbench.data.ferplus_schemes import MODES, rule_counts, targets


def reference(emotion_raw: list[float], mode: str) -> list[float]:
    """The FERPlus reference ``_process_data``, transcribed as written (lists, not numpy)."""
    size = len(emotion_raw)
    emotion_unknown = [0.0] * size
    emotion_unknown[-2] = 1.0
    for i in range(size):
        if emotion_raw[i] < 1.0 + sys.float_info.epsilon:
            emotion_raw[i] = 0.0
    sum_list = sum(emotion_raw)
    emotion = [0.0] * size
    if mode == "majority":
        maxval = max(emotion_raw)
        if maxval > 0.5 * sum_list:
            emotion[int(np.argmax(emotion_raw))] = maxval
        else:
            emotion = emotion_unknown
    elif mode in ("probability", "crossentropy"):
        sum_part, count, valid_emotion = 0.0, 0, True
        while sum_part < 0.75 * sum_list and count < 3 and valid_emotion:
            maxval = max(emotion_raw)
            for i in range(size):
                if emotion_raw[i] == maxval:
                    emotion[i] = maxval
                    emotion_raw[i] = 0
                    sum_part += emotion[i]
                    count += 1
                    if i >= 8:
                        valid_emotion = False
                        if sum(emotion) > maxval:
                            emotion[i] = 0
                            count -= 1
                        break
        if sum(emotion) <= 0.5 * sum_list or count > 3:
            emotion = emotion_unknown
    elif mode == "multi_target":
        for i in range(size):
            if emotion_raw[i] >= 0.3 * sum_list:
                emotion[i] = emotion_raw[i]
        if sum(emotion) <= 0.5 * sum_list:
            emotion = emotion_unknown
    return [float(i) / sum(emotion) for i in emotion]


def reference_kept(votes: list[float], mode: str) -> bool:
    """The reader keeps a face when its target does not peak on unknown or not-a-face."""
    if sum(v for v in votes if v > 1) == 0:
        return False
    return int(np.argmax(reference(list(votes), mode))) < 8


#        neu hap sur sad ang dis fea con unk NF
ROWS = [
    [6, 0, 1, 1, 0, 0, 0, 0, 2, 0], [4, 0, 0, 1, 3, 2, 0, 0, 0, 0], [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],
    [3, 3, 3, 0, 0, 0, 0, 0, 1, 0], [2, 2, 2, 2, 2, 0, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0, 0, 0, 4, 2],
    [0, 3, 0, 0, 0, 0, 0, 0, 3, 4], [0, 0, 0, 0, 0, 0, 0, 3, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [4, 3, 3, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], [3, 0, 0, 0, 0, 0, 0, 0, 3, 0],
]


@pytest.mark.parametrize("mode", MODES)
def test_schemes_match_the_reference_reader(mode):
    got, ok = targets(np.array(ROWS, float), mode)
    for row, g, k in zip(ROWS, got, ok, strict=True):
        assert bool(k) == reference_kept(row, mode), (row, mode)
        if k:
            assert np.allclose(g, reference(list(map(float, row)), mode)), (row, mode)
    # Different rules keep different faces: the schemes are not one rule under four names.
    assert ok.tolist() != targets(np.array(ROWS, float), "majority" if mode != "majority" else "multi_target")[1].tolist()


def test_real_votes_kept_per_scheme_equal_an_independent_count(data_root):
    votes_path = Path(data_root) / "fer2013" / "fer2013new.csv"
    if not votes_path.is_file():
        pytest.skip(f"{votes_path} not present")
    usage, named, votes, _ = read_votes(votes_path)
    counts = rule_counts(usage, named, votes)
    training = np.flatnonzero((usage == "Training") & named)
    assert len(usage[usage == "Training"]) == 28709
    expected_of: dict[str, int] = {}
    for mode in MODES:  # the reference treats probability and crossentropy alike
        expected = expected_of.get("probability") if mode == "crossentropy" else None
        expected = expected if expected is not None else sum(reference_kept(votes[r].tolist(), mode) for r in training)
        expected_of[mode] = expected
        assert counts[mode]["Training"] == {"kept": expected, "dropped": 28709 - expected}, mode
    print({m: counts[m]["Training"] for m in MODES})
    assert FERPLUS_COLUMNS[-2:] == ("unknown", "NF")
