"""The EfficientNetV2-S model family: stage table (``arch``), TensorFlow-free cost model
(``cost``), Keras builder (``build``) and GPU switches (``runtime``).

Import the submodules directly; this package imports nothing heavy.
"""
