"""How hyperparameters and metrics are named wherever a person reads them: the
report's tables and the table printed at the end of a run (thesis wording and order).

No imports, so the run package can use it without pulling in the report's.
"""

from __future__ import annotations

#: Searched and fixed values, in the thesis's order (Tables 5.3/5.5/5.7).
HYPER_LABELS: tuple[tuple[str, str], ...] = (
    ("arch", "Architecture"),
    ("learning_rate", "Learning rate"),
    ("width", "Width coefficient"),
    ("depth", "Depth coefficient"),
    ("dropout", "Dropout rate"),
    ("top_filters", "Top filters (numTopFilters)"),
    ("drop_connect", "Drop-connect rate"),
    ("batch_size", "Batch size"),
    ("label_smoothing", "Label smoothing"),
    # The training recipe (train.optimizer, train.schedule).
    ("optimizer", "Optimizer"),
    ("momentum", "Momentum"),
    ("nesterov", "Nesterov momentum"),
    ("weight_decay", "Weight decay"),
    ("schedule", "Learning-rate schedule"),
    ("warmup_epochs", "Warm-up epochs"),
    ("lr_alpha", "Cosine floor (fraction of the rate)"),
    ("lr_step_epochs", "Epochs between decays"),
    ("lr_factor", "Decay factor"),
    ("lr_patience", "Plateau patience"),
    ("lr_monitor", "Plateau monitors"),
    ("lr_min_delta", "Plateau min. delta"),
    ("lr_cooldown", "Plateau cooldown"),
    ("lr_min", "Minimum learning rate"),
    # The recipes (train.ema, augment.mixup / cutmix / random_erasing, train.distill), where on.
    ("ema_decay", "EMA decay"),
    ("swa_epochs", "SWA epochs averaged"),
    ("mixup_alpha", "Mixup alpha"),
    ("mixup_prob", "Mixup share of images"),
    ("cutmix_alpha", "CutMix alpha"),
    ("cutmix_prob", "CutMix share of images"),
    ("erasing_prob", "Random erasing share of images"),
    ("erasing_area_min", "Erased area min."),
    ("erasing_area_max", "Erased area max."),
    ("distill_teacher", "Distillation teacher"),
    ("distill_temperature", "Distillation temperature"),
    ("distill_alpha", "Distillation weight (alpha)"),
    ("distill_teacher_params", "Teacher parameters"),
    ("distill_teacher_predict_s", "Teacher predictions (s)"),
    ("distill_teacher_train_s", "Teacher training (s)"),
)

#: Metrics of a split, in the order the report lists them (Tables 5.2/5.4/5.6).
METRIC_LABELS: tuple[tuple[str, str], ...] = (
    ("accuracy", "Accuracy"),
    ("loss", "Loss"),
    ("precision_macro", "Precision (macro)"),
    ("recall_macro", "Recall (macro)"),
    ("f1_macro", "F1 (macro)"),
    ("precision_weighted", "Precision (weighted)"),
    ("recall_weighted", "Recall (weighted)"),
    ("f1_weighted", "F1 (weighted)"),
    ("balanced_accuracy", "Balanced accuracy (UAR)"),
    ("kappa", "Cohen's kappa"),
    ("brier", "Brier score"),
    ("ece", "ECE (15 bins)"),
)


def hyper_label(key: str) -> str:
    """The label of hyperparameter ``key`` (the key itself when it has none)."""
    return dict(HYPER_LABELS).get(key, key)
