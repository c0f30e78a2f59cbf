"""Patient-grouped, stratified cross-validation splits with a leakage check."""

from engine.splits._folds import (
    TEST_FOLD,
    FoldBalance,
    FoldPlan,
    LeakageError,
    assign_folds,
    assign_repeats,
    check_leakage,
    fold_balance,
    repeat_seed,
)
from engine.splits._stored import Split, create_split, list_splits, load_split

__all__ = [
    "TEST_FOLD",
    "FoldBalance",
    "FoldPlan",
    "LeakageError",
    "Split",
    "assign_folds",
    "assign_repeats",
    "check_leakage",
    "create_split",
    "fold_balance",
    "list_splits",
    "load_split",
    "repeat_seed",
]
