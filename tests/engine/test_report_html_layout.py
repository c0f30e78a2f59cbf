"""The report's wide tables: column names may break after underscores, numbers never wrap."""

from engine.report._html import _CSS, html_table


def test_header_names_break_after_underscores_and_cells_do_not_wrap():
    out = html_table((["experiment", "auc_ci_low", "p_delong_holm"], [["cnn", 0.9371, 0.009]]))
    assert "<th>auc_<wbr>ci_<wbr>low</th>" in out and "<th>p_<wbr>delong_<wbr>holm</th>" in out
    assert "<td>cnn</td>" in out and "_<wbr>" not in out.split("<tbody>")[1]  # only names break
    assert ".wide table { width: auto; }" in _CSS  # the table may shrink to the page, then scrolls
    assert "td { white-space: nowrap; }" in _CSS
