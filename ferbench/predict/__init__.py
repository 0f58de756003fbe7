"""A trained model on image files: one loader for a Keras file, a run folder or an exported TFLite
file (:mod:`~ferbench.predict.loader`, which ``ferbench evaluate`` uses too), the inputs
(:mod:`~ferbench.predict.inputs`), the scoring of faces (:mod:`~ferbench.predict.score`), and
pictures with boxes and labels drawn (:mod:`~ferbench.predict.annotate`).
"""
