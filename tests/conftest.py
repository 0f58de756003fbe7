"""Shared fixtures. Real-data tests read ``$FERBENCH_DATA`` or ``../shared/data`` beside
the repository, and skip where neither holds the dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    env = os.environ.get("FERBENCH_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_root() -> Path:
    return _data_root()


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    """The real FER2013 folder (Kaggle CSV, folder sample, FER+ votes); skip when absent."""
    d = _data_root() / "fer2013"
    if not (d / "fer2013.csv.gz").exists() and not (d / "fer2013.csv").exists():
        pytest.skip(f"real FER2013 not found under {d}")
    return d


@pytest.fixture
def keras_clean():
    """Keras, with the global dtype policy and session reset after the test."""
    keras = pytest.importorskip("keras")
    yield keras
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()


@pytest.fixture(autouse=True)
def schema_agreement_log(monkeypatch):
    """Every spec a test validates: if validate accepts it, so does the schema an editor uses
    (tests/schema_agreement.py); the test fails otherwise. A spec validated with --set overrides
    is left out: an editor sees the file alone. Yields the disagreements found so far."""
    from schema_agreement import disagreement

    import ferbench.spec.loader as loader

    found: list[str] = []
    overridden: list[bool] = [False]
    apply_overrides, checked = loader.apply_overrides, loader.Checked

    def spy_overrides(doc, overrides):
        overridden[0] = bool(overrides)
        return apply_overrides(doc, overrides)

    def recorded(*args, **kwargs):
        out = checked(*args, **kwargs)
        if not overridden[0] and os.path.isfile(out.path):
            msg = disagreement(out.path, out.ok)
            if msg:
                found.append(msg)
        overridden[0] = False
        return out

    monkeypatch.setattr(loader, "Checked", recorded)
    monkeypatch.setattr(loader, "apply_overrides", spy_overrides)
    yield found
    assert not found, "the schema refuses specs validate accepts:\n" + "\n".join(found)


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A folder on a 256 KiB tmpfs this test mounts (root only): a disk that fills after a few files.

    Skips, saying why, where mounting is not permitted (not root, a container without
    CAP_SYS_ADMIN); CI runs as root and mounts it.
    """
    from disks import mount_tmpfs, unmount

    disk = tmp_path / "disk"
    why = mount_tmpfs(disk, "256k")
    if why is not None:
        pytest.skip(f"cannot mount a small tmpfs here ({why}); CI runs this as root")
    try:
        yield disk
    finally:
        unmount(disk)


@pytest.fixture
def fill_disk():  # type: ignore[no-untyped-def]
    """``fill_disk(folder)``: fill the filesystem of ``folder`` (a :func:`small_disk`) to the last byte."""
    from disks import fill

    return fill


@pytest.fixture
def read_only():  # type: ignore[no-untyped-def]
    """``read_only(folder)``: make ``folder`` read-only (a read-only bind mount this test makes, root only; skips elsewhere)."""
    from disks import make_read_only, unmount

    made: list[Path] = []

    def make(folder: Path) -> Path:
        why = make_read_only(folder)
        if why is not None:
            pytest.skip(f"cannot make a read-only mount here ({why}); CI runs this as root")
        made.append(folder)
        return folder

    yield make
    for folder in reversed(made):
        unmount(folder)


@pytest.fixture(autouse=True)
def _process_signal_state(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each test starts and ends with the interpreter's own SIGINT/SIGTERM handling, neither signal blocked.

    A command called in-process puts back the handlers it found (``tests/test_entry.py``);
    this stays as a guard, and says which test left a handler changed (a warning naming
    it) instead of letting it change what the next test sees: once, the suite ran on with
    SIGINT ignored after some in-process test, and no test of the commands leaves one now.
    """
    import signal
    import warnings

    def reset() -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    reset()
    yield
    left = {name: h for name, h, want in (("SIGINT", signal.getsignal(signal.SIGINT), signal.default_int_handler),
                                          ("SIGTERM", signal.getsignal(signal.SIGTERM), signal.SIG_DFL)) if h is not want}
    if left:
        warnings.warn(f"{request.node.nodeid} left signal handlers changed: {left}", pytest.PytestWarning, stacklevel=1)
    reset()
