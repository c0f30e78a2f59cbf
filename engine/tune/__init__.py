"""Equal-budget hyper-parameter tuning (Optuna) on inner folds of each outer training fold."""

from engine.tune._tune import TUNED, budget_sentence, read_tuning, run_tuning, search_space, tune

__all__ = ["TUNED", "budget_sentence", "read_tuning", "run_tuning", "search_space", "tune"]
