"""Fixtures for the data tests: dataset specs with the schema defaults, cache folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ferbench.spec.types import FER2013_CLASSES, DatasetSpec, Splits, SyntheticSpec


@pytest.fixture(scope="session")
def fer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for every real-FER2013 test: the CSV is parsed once per session."""
    return tmp_path_factory.mktemp("fer-cache")


@pytest.fixture()
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture()
def make_spec(cache_dir: Path) -> Callable[..., DatasetSpec]:
    """A DatasetSpec with the schema's defaults; keyword arguments override fields."""

    def make(**kw: Any) -> DatasetSpec:
        base: dict[str, Any] = dict(
            kind="synthetic", path=None, layout="auto", labels=None, image_size=48, color="grayscale",
            classes=FER2013_CLASSES, class_map={}, splits=Splits("train", "validation", "test"),
            on_bad_sample="error", cache=str(cache_dir), synthetic=SyntheticSpec(140, 35, 35, "fer2013", 0.08),
        )
        if isinstance(kw.get("splits"), tuple):
            kw["splits"] = Splits(*kw["splits"])
        base.update(kw)
        if "path" in kw and kw["path"] is not None:
            base["path"] = str(kw["path"])
        return DatasetSpec(**base)

    return make
