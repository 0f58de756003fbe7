"""Tracking: a run's trials sent to MLflow and TensorBoard as they train, behind one small interface.

``base`` (the :class:`Tracker` interface the run session calls, and the guard that turns a
tracker's failure into one warning line), ``make`` (trackers from the spec's ``tracking``),
``mlflow_tracker`` and ``tensorboard_tracker`` (the two back ends, which alone import MLflow
and TensorBoard), ``send`` (``ferbench track``: a finished run sent from its records).
Importing the package imports neither MLflow nor TensorBoard.
"""
