"""Runs are named r<repeat>f<fold>s<seed>, never 'fold None'."""

from engine.jobs import ACTIVE, STATES, TERMINAL_STATES
from engine.runs import run_label


def test_run_label_names_repeat_fold_seed():
    assert run_label(1, 3, 2) == "r1f3s2"


def test_older_runs_read_as_repeat_and_seed_zero():
    assert run_label(None, 4, None) == "r0f4s0"


def test_a_job_without_a_fold_has_no_fold_label():
    assert run_label(0, None, 0) == ""


def test_terminal_states_are_the_states_that_are_not_active():
    assert set(TERMINAL_STATES) == set(STATES) - set(ACTIVE)
