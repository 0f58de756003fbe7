"""Batch schedulers: ``ferbench submit`` (a SLURM job array, a Kubernetes Indexed Job) and ``ferbench status``.

A job's tasks are ordinary ``ferbench worker`` processes on one study
(:mod:`ferbench.run.search.join`); this package only writes the job, submits it,
gets the storage URL to the tasks without its password in any script, command line
or environment, and reads back where the job and the study stand.
"""
