"""EfficientNetV2 (B0-B3, S, M, L): the family with a table, a builder and a cost model of its own.

* :mod:`.arch` — Keras's stage tables, the variants and the expanded block list (plain Python);
* :mod:`.cost` — parameters and MACs walking that list (plain Python);
* :mod:`.build` — the Keras model walking the same list (imports Keras when called);
* :mod:`.family` — the signatures every family has (``cost``, ``build``, ``keras_layer_name``),
  which :mod:`ferbench.model.registry` calls.

Importing the package imports no TensorFlow.
"""

from __future__ import annotations

from ferbench.model.efficientnetv2.arch import FAMILIES

__all__ = ["FAMILIES"]
