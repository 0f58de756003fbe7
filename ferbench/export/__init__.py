"""Deployment: a trained model as SavedModel, TFLite or ONNX files, scored again through their own runtime, timed, with a model card.

``api`` (``ferbench export``), ``formats`` (the table of formats: writer, runtime adapter,
tolerance), ``savedmodel``, ``tflite``, ``onnx`` (the files and their runtimes),
``latency`` (warm-up, median of repeats, per batch size), ``card`` and ``card_text``
(the model card and its Markdown). Importing the package imports nothing heavy.
"""
