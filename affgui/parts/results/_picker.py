"""A checkable list of the project's experiments; incomplete ones are greyed with the reason."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from affgui.parts.results._compute import ExperimentStatus

NAME_ROLE = Qt.ItemDataRole.UserRole


def item_text(status: ExperimentStatus) -> str:
    pre = "pretrained" if status.pretrained else "scratch"
    folds = f"{status.finished}/{status.total} folds"
    if not status.ready:
        folds += f" ({status.waiting or 'outputs missing'})"
    return f"{status.name}  ·  {folds}  ·  {status.model}, {pre}"


class ExperimentPickerWidget(QListWidget):
    """Emits ``sigCheckedChanged(list)`` (names in list order) whenever the checked set changes."""

    sigCheckedChanged = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.statuses: dict[str, ExperimentStatus] = {}
        self._updating = False
        self.itemChanged.connect(self._on_item_changed)

    def item_named(self, name: str) -> QListWidgetItem | None:
        for row in range(self.count()):
            it = super().item(row)
            if it.data(NAME_ROLE) == name:
                return it
        return None

    def set_statuses(self, statuses: Sequence[ExperimentStatus], check: Iterable[str] = ()) -> None:
        """Show ``statuses``; keep what was checked (if still complete) and also check ``check``."""
        before = self.checked()
        keep = set(before) | set(check)
        self._updating = True
        try:
            self.clear()
            self.statuses = {s.name: s for s in statuses}
            for s in statuses:
                it = QListWidgetItem(item_text(s))
                it.setData(NAME_ROLE, s.name)
                if s.ready:
                    it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                    it.setCheckState(Qt.CheckState.Checked if s.name in keep else Qt.CheckState.Unchecked)
                    it.setToolTip(f"{s.name}: {s.model}, {'pretrained' if s.pretrained else 'from scratch'}; "
                                  f"all {s.total} folds finished")
                else:
                    it.setFlags(Qt.ItemFlag.NoItemFlags)  # greyed: cannot be checked
                    it.setToolTip(s.reason)
                self.addItem(it)
        finally:
            self._updating = False
        if self.checked() != before:
            self.sigCheckedChanged.emit(self.checked())

    def checked(self) -> list[str]:
        out = []
        for row in range(self.count()):
            it = super().item(row)
            if it.flags() & Qt.ItemFlag.ItemIsUserCheckable and it.checkState() == Qt.CheckState.Checked:
                out.append(it.data(NAME_ROLE))
        return out

    def set_checked(self, names: Iterable[str]) -> None:
        """Check exactly ``names`` (those that are complete)."""
        names = set(names)
        self._updating = True
        try:
            for row in range(self.count()):
                it = super().item(row)
                if it.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                    on = it.data(NAME_ROLE) in names
                    it.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self._updating = False
        self.sigCheckedChanged.emit(self.checked())

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        if not self._updating:
            self.sigCheckedChanged.emit(self.checked())
