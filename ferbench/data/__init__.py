"""Datasets: FER2013 (CSV or folders, FER+ labels), AffectNet, image folders and
built-in synthetic faces; splits, duplicates, class weights, and the tf.data pipeline.

Nothing here imports TensorFlow until a pipeline is built.
"""

from ferbench.data.core import LoadedDataset, SplitData
from ferbench.data.load import load_dataset
from ferbench.data.pipeline import augment_batch, make_eval_dataset, make_train_dataset
from ferbench.data.weights import class_weights

__all__ = [
    "LoadedDataset",
    "SplitData",
    "augment_batch",
    "class_weights",
    "load_dataset",
    "make_eval_dataset",
    "make_train_dataset",
]
