"""Datasets: FER2013 (CSV or folders, FER+ labels), AffectNet, image folders and
built-in synthetic faces; splits, duplicates, class weights, and the tf.data pipeline.

Nothing here imports TensorFlow until a pipeline is built, and importing the package
imports nothing (the names below load their module on first use), so the spec loader
can read :mod:`ferbench.data.kinds` without numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferbench._lazy import lazy_exports

if TYPE_CHECKING:
    from ferbench.data.core import LoadedDataset, SplitData
    from ferbench.data.load import load_dataset
    from ferbench.data.pipeline import augment_batch, make_eval_dataset, make_train_dataset
    from ferbench.data.weights import class_weights

_HOME = {
    "LoadedDataset": "ferbench.data.core",
    "SplitData": "ferbench.data.core",
    "augment_batch": "ferbench.data.pipeline",
    "class_weights": "ferbench.data.weights",
    "load_dataset": "ferbench.data.load",
    "make_eval_dataset": "ferbench.data.pipeline",
    "make_train_dataset": "ferbench.data.pipeline",
}

__all__ = [
    "LoadedDataset",
    "SplitData",
    "augment_batch",
    "class_weights",
    "load_dataset",
    "make_eval_dataset",
    "make_train_dataset",
]


__getattr__ = lazy_exports(__name__, _HOME)
