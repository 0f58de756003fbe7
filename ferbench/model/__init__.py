"""The model families: stage tables as data with one builder and one TensorFlow-free cost
model each (:mod:`~ferbench.model.registry` lists them: EfficientNetV2 in ``arch``,
``build`` and ``cost``; ``mobilenetv3``, ``resnet``, ``minixception``, ``vgg``), initial
weights (``weights``), custom builders (``custom``) and GPU switches (``runtime``).

Import the submodules directly; this package imports nothing heavy.
"""
