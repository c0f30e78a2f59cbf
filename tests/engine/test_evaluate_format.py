"""One p-value format everywhere: never "0.000"; below 0.001 it reads "< 0.001"."""

import math

import pytest

from engine.evaluate import format_p, is_p_column
from engine.report._html import html_table


@pytest.mark.parametrize(("p", "labelled", "bare"), [
    (0.0, "p < 0.001", "< 0.001"),
    (4e-7, "p < 0.001", "< 0.001"),
    (0.00099, "p < 0.001", "< 0.001"),
    (0.001, "p = 0.001", "0.001"),
    (0.04249, "p = 0.042", "0.042"),
    (1.0, "p = 1.000", "1.000"),
    (None, "n/a", "n/a"),
    (math.nan, "n/a", "n/a"),
])
def test_format_p(p, labelled, bare):
    assert format_p(p) == labelled
    assert format_p(p, label=False) == bare


def test_format_p_refuses_a_number_that_is_not_a_p_value():
    with pytest.raises(ValueError, match=r"\[0, 1\].*1.5"):
        format_p(1.5)


def test_p_columns_are_recognised_by_name():
    assert all(is_p_column(c) for c in ("p", "p_value", "p_boot_holm", "p_mcnemar", "p_mid", "mcnemar_p"))
    assert not any(is_p_column(c) for c in ("ppv", "pauc", "auc", "npv_ci_low", "patients"))


def test_html_tables_never_show_p_zero():
    page = html_table((["pair", "p_boot", "difference"], [["a-b", 0.0, 0.0], ["a-c", 0.0312, 0.5]]))
    assert "<td>a-b</td><td>&lt; 0.001</td><td>0.0000</td>" in page  # a non-p column keeps its format
    assert "<td>a-c</td><td>0.031</td><td>0.5000</td>" in page


def test_gui_table_uses_the_same_format():
    pytest.importorskip("PySide6")
    from affgui.parts.results._tables import COMPARISON_COLUMNS

    col = next(c for c in COMPARISON_COLUMNS if c.header == "Bootstrap p")
    assert col.fmt(0.0) == format_p(0.0, label=False) == "< 0.001"
    assert col.fmt(0.5) == "0.500"
