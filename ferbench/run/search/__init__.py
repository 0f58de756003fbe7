"""A run's Optuna study: opening it, counting its trials, reconciling it with the records, and the workers that pull trials."""
