"""Table models for the comparison and compute-cost tables: raw values for sorting, text for display."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from engine.evaluate import format_p, is_p_column

RAW_ROLE = Qt.ItemDataRole.UserRole  # the unformatted value (float, int, str or None)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    fmt: Callable[[Any], str] = str
    tip: str = ""


def _f(digits: int) -> Callable[[Any], str]:
    return lambda v: f"{v:.{digits}f}"


def _p(v: float) -> str:
    return format_p(v, label=False)


def _ci(low, high) -> tuple[float, float] | None:
    return None if low is None or high is None else (low, high)


def _ci_text(ci: tuple[float, float]) -> str:
    return f"{ci[0]:+.3f} to {ci[1]:+.3f}"


def _mib(v: int) -> str:
    return f"{v / 2 ** 20:,.0f}"


COMPARISON_COLUMNS: tuple[Column, ...] = (
    Column("First", lambda r: r.first),
    Column("Second", lambda r: r.second),
    Column("AUC first", lambda r: r.auc_first, _f(3)),
    Column("AUC second", lambda r: r.auc_second, _f(3)),
    Column("Δ AUC", lambda r: r.difference, lambda v: f"{v:+.3f}", "AUC of first minus AUC of second"),
    Column("DeLong 95% CI", lambda r: _ci(r.delong_ci_low, r.delong_ci_high), _ci_text),
    Column("DeLong p", lambda r: r.p_delong, _p, "paired DeLong test"),
    Column("DeLong p (Holm)", lambda r: r.p_delong_holm, _p, "Holm-adjusted over the table's rows"),
    Column("Clustered 95% CI", lambda r: _ci(r.clustered_ci_low, r.clustered_ci_high), _ci_text,
           "image level: Obuchowski's clustered-ROC variance, patients as clusters"),
    Column("Clustered p (Holm)", lambda r: r.p_clustered_holm, _p,
           "image level: paired test with the clustered variance, Holm-adjusted over the rows"),
    Column("Bootstrap 95% CI", lambda r: (r.boot_ci_low, r.boot_ci_high), _ci_text,
           "percentile interval, patients resampled"),
    Column("Bootstrap p", lambda r: r.p_boot, _p, "patient bootstrap"),
    Column("Bootstrap p (Holm)", lambda r: r.p_boot_holm, _p, "Holm-adjusted over the table's rows"),
    Column("Bootstrap mid-p", lambda r: r.p_boot_mid, _p,
           "replicate differences of exactly 0 counted half on each side (not Holm-adjusted)"),
    Column("Zero replicates", lambda r: r.boot_zero_share, lambda v: f"{100 * v:.1f}%",
           "share of bootstrap replicate differences exactly 0"),
    Column("AUC near 1", lambda r: r.boot_near_one, lambda v: "⚠ yes" if v else "no",
           "an AUC within 0.005 of 1: no percentile-bootstrap p-value is reliable there"),
    Column("Significant", lambda r: r.significant(), lambda v: "✱ yes" if v else "no",
           "Holm-adjusted p < 0.05 (DeLong where it applies, otherwise the bootstrap)"),
)

COST_COLUMNS: tuple[Column, ...] = (
    Column("Experiment", lambda c: c.name),
    Column("Model", lambda c: c.model),
    Column("Family", lambda c: c.family),
    Column("Pretrained", lambda c: c.pretrained, lambda v: "yes" if v else "no"),
    Column("Params (M)", lambda c: c.parameters, lambda v: f"{v / 1e6:.2f}"),
    Column("GFLOPs", lambda c: c.forward_gflops, _f(2), "forward pass, one image"),
    Column("Image size", lambda c: c.image_size),
    Column("Train img/s", lambda c: c.train_images_per_s, _f(1)),
    Column("Epoch s", lambda c: c.epoch_seconds_mean, _f(1), "mean epoch time"),
    Column("Wall s (total)", lambda c: c.wall_seconds_total, _f(0), "all folds"),
    Column("Wall s / fold", lambda c: c.wall_seconds_per_fold, _f(0)),
    Column("Peak memory (MiB)", lambda c: c.peak_memory_bytes, _mib),
    Column("Memory kind", lambda c: c.peak_memory_kind),
    Column("Latency b1 (ms)", lambda c: c.latency_ms_batch1, _f(2), "one image at a time"),
    Column("Latency batched (ms/img)", lambda c: c.latency_ms_per_image_batched, _f(2)),
    Column("Latency batch", lambda c: c.latency_batch),
    Column("Device", lambda c: c.device_name or c.device),
    Column("Precision", lambda c: c.precision),
    Column("Folds", lambda c: c.n_runs),
    Column("Epochs", lambda c: c.epochs_run, tip="epochs run over all folds"),
)


class RecordTableModel(QAbstractTableModel):
    """Rows are records (dataclasses); columns say how to read and show each field."""

    def __init__(self, columns: Sequence[Column], parent=None):
        super().__init__(parent)
        self.columns = tuple(columns)
        self.records: list = []

    def set_records(self, records: Sequence) -> None:
        self.beginResetModel()
        self.records = list(records)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def raw(self, row: int, column: int) -> Any:
        return self.columns[column].value(self.records[row])

    def text(self, row: int, column: int) -> str:
        value = self.raw(row, column)
        return "—" if value is None else self.columns[column].fmt(value)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(index.row(), index.column())
        if role == RAW_ROLE:
            return self.raw(index.row(), index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole:
            raw = self.raw(index.row(), index.column())
            numeric = isinstance(raw, (int, float, tuple)) and not isinstance(raw, bool)
            horizontal = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        if role == Qt.ItemDataRole.ToolTipRole and self.columns[section].tip:
            return self.columns[section].tip
        return None


def comparison_model(parent=None) -> RecordTableModel:
    return RecordTableModel(COMPARISON_COLUMNS, parent)


def cost_model(parent=None) -> RecordTableModel:
    return RecordTableModel(COST_COLUMNS, parent)



def _cell(header: str, value: Any) -> str:
    """A statistics-table cell: p-values by the common format, other numbers to 3-4 places."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if is_p_column(header):
            return format_p(value, label=False)
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


class StatsTableModel(QAbstractTableModel):
    """One table of the further statistics (``header`` + ``rows`` as the report writes them)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.header: list[str] = []
        self.rows: list[list] = []

    def set_table(self, header: Sequence[str], rows: Sequence[Sequence]) -> None:
        self.beginResetModel()
        self.header, self.rows = list(header), [list(r) for r in rows]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.header)

    def text(self, row: int, column: int) -> str:
        return _cell(self.header[column], self.rows[row][column])

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(index.row(), index.column())
        if role == RAW_ROLE:
            return self.rows[index.row()][index.column()]
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.header[section]
        return None


def table_view(model) -> QTableView:
    """A read-only, row-selecting table view of ``model`` (the Results view's tables)."""
    view = QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return view
