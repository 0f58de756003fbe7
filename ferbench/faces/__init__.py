"""Faces from photos: detectors behind one interface, eye alignment, and the detection cache.

The data pipeline (:mod:`ferbench.data`) and ``ferbench predict`` call it; nothing here
knows about training. Detectors are optional extras (``pip install 'ferbench[faces]'``),
imported only when a detector is made.
"""
