"""Reader study in the GUI: a blind session hides what it must, reading runs from the label keys,
the disagreement queue and the adjudication view set consensus labels with a history."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from engine.reads import (
    ImageSet,
    adjudications,
    create_session,
    reads_of,
    record_read,
    settled_reads,
)

from .conftest import open_in


def _texts(widget) -> str:
    """Every piece of text the reader can see in ``widget`` (labels, title, viewer overlay)."""
    parts = [widget.windowTitle()]
    parts += [lab.text() for lab in widget.findChildren(QLabel) if lab.isVisibleTo(widget)]
    return "\n".join(parts)


def _focus(qtbot, w):
    w.activateWindow()
    w.setFocus()
    qtbot.waitUntil(lambda: w.isActiveWindow() or w.hasFocus(), timeout=5000)


def test_a_blind_session_hides_labels_predictions_patients_and_paths(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    project = window.project
    ids = window.grid.model().image_ids()
    project.labels.set_many(ids[:6], "AFF", "truth", "gui")
    project.labels.set_many(ids[6:], "NFF", "truth", "gui")
    other = create_session(project, "other", "Dr Other", mode="open")
    record_read(project, other, ids[0], "NFF")

    dialog = window.reads.new_session()
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("blind-1")
    dialog.reader_edit.setText("Dr Blind")
    assert dialog.blind_box.isChecked()  # blind is the default
    dialog.accept()
    assert dialog.created is not None and dialog.created.blind
    reading = window.reads.reading
    qtbot.addWidget(reading)
    qtbot.waitUntil(lambda: reading.isVisible())
    assert not window.isVisible()  # the grid, badges and panels show labels: hidden while reading

    seen_patients = set()
    for _ in range(len(reading.items)):
        row = reading.viewer.row
        item = reading.item
        assert row.label is None and row.path == "" and row.source_folder == ""
        assert row.patient_key == item.patient and item.patient.startswith("patient ")
        assert not reading.viewer._badge.isVisibleTo(reading.viewer)  # no label badge at all
        text = _texts(reading)
        real = project.images.get(item.image_id)
        assert real.patient_key not in text and "/data" not in text
        assert "Dr Other" not in text and "P(AFF)" not in text and "unlabelled" not in text
        assert "your read" not in text
        seen_patients.add(item.patient)
        reading.step(1)
    assert len(seen_patients) == 4
    # aliases number the patients in the session's (random) order
    aliases = list(dict.fromkeys(i.patient for i in reading.items))
    assert aliases == [f"patient {k}" for k in range(1, 5)]

    reading.close()
    qtbot.waitUntil(window.isVisible)
    assert [project.labels.get(i) for i in ids] == ["AFF"] * 6 + ["NFF"] * 6  # reads never touch labels


def test_reading_runs_from_the_labelling_keys(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    project = window.project
    session = create_session(project, "fast", "Dr Fast", mode="open")
    reading = window.reads.open_session(session)
    qtbot.addWidget(reading)
    qtbot.waitExposed(reading)
    _focus(qtbot, reading)
    first = [i.image_id for i in reading.items[:4]]
    for key in (Qt.Key.Key_A, Qt.Key.Key_N, Qt.Key.Key_U):
        qtbot.keyClick(reading, key)
    qtbot.keyClick(reading, Qt.Key.Key_Space)  # skip one
    qtbot.keyClick(reading, Qt.Key.Key_A)
    reads = {r.image_id: r for r in reads_of(project, "fast")}
    assert [reads[i].label for i in first[:3]] == ["AFF", "NFF", "uncertain"]
    assert first[3] not in reads and reading.items[4].image_id in reads
    assert all(r.reader == "Dr Fast" and r.seconds is not None and r.seconds >= 0 for r in reads.values())
    assert all(project.labels.get(i) is None for i in first)
    assert "4 of 12 read" in reading.status.text()
    # reopened, the session continues at the first unread image
    reading.close()
    again = window.reads.open_session("fast")
    qtbot.addWidget(again)
    assert again.item.image_id == first[3]
    again.close()


def test_a_confidence_session_takes_a_digit_then_the_label(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    project = window.project
    session = create_session(project, "conf", "Dr C", mode="open", confidence=True)
    reading = window.reads.open_session(session)
    qtbot.addWidget(reading)
    qtbot.waitExposed(reading)
    _focus(qtbot, reading)
    image = reading.item.image_id
    qtbot.keyClick(reading, Qt.Key.Key_A)
    assert reads_of(project, "conf") == [] and "press 1" in reading.status.text()
    qtbot.keyClick(reading, Qt.Key.Key_4)
    assert "confidence: <b>4</b>" in reading.header.text()
    qtbot.keyClick(reading, Qt.Key.Key_A)
    (read,) = reads_of(project, "conf")
    assert (read.image_id, read.label, read.confidence) == (image, "AFF", 4)
    assert reading.confidence is None  # the next image asks again
    qtbot.keyClick(reading, Qt.Key.Key_1)  # 1 was also the viewer's 1:1 here, and Qt ran neither
    assert "confidence: <b>1</b>" in reading.header.text()
    reading.close()


def _two_readers(project, ids):
    a = create_session(project, "r1", "Reader One", ImageSet(kind="ids", ids=tuple(ids)), mode="open")
    b = create_session(project, "r2", "Reader Two", ImageSet(kind="ids", ids=tuple(ids)), mode="open")
    for k, i in enumerate(ids):
        record_read(project, a, i, "AFF" if k < 2 else "NFF", 4)
        record_read(project, b, i, "AFF" if k in (0, 2) else "NFF", 3)
    return a, b


def test_the_disagreement_queue_and_adjudication(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    project = window.project
    ids = window.grid.model().image_ids()[:4]
    _two_readers(project, ids)  # they differ on ids[1] (AFF/NFF) and ids[2] (NFF/AFF)
    queue = window.reads.open_queue()
    qtbot.addWidget(queue)
    qtbot.waitExposed(queue)
    assert queue.sessions() == ["r1", "r2"]
    assert [q.image_ids for q in queue.queue] == [(ids[1],), (ids[2],)]
    assert "2 disagreement(s)" in queue.count_label.text()
    assert queue.reads_table.rowCount() == 2  # both readers' reads of the first item, side by side
    cells = {queue.reads_table.item(r, 4).text() for r in range(2)}
    assert cells == {"AFF", "NFF"}
    assert "Reader One" in {queue.reads_table.item(r, 1).text() for r in range(2)}

    _focus(qtbot, queue)
    with qtbot.waitSignal(queue.sigAdjudicated):
        qtbot.keyClick(queue, Qt.Key.Key_A)  # the labelling key sets the consensus
    assert project.labels.get(ids[1]) == "AFF"
    (adj,) = adjudications(project, ids[1])
    assert adj.adjudicator == window.settings.reader and adj.rule == "manual"
    history = project.query("SELECT source, new_label FROM label_history WHERE id = ?", (adj.history_id,))[0]
    assert tuple(history) == ("adjudication", "AFF")
    assert sorted(r.session for r in settled_reads(project, adj.history_id)) == ["r1", "r2"]
    assert [q.image_ids for q in queue.queue] == [(ids[2],)]  # settled items leave the queue
    queue.close()


def test_majority_rule_settles_what_it_decides_and_leaves_ties(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    project = window.project
    ids = window.grid.model().image_ids()[:4]
    _two_readers(project, ids)
    third = create_session(project, "r3", "Reader Three", ImageSet(kind="ids", ids=(ids[1],)), mode="open")
    record_read(project, third, ids[1], "NFF")
    queue = window.reads.open_queue()
    qtbot.addWidget(queue)
    # with r1, r2: two disagreements, both ties under majority
    for i in range(queue.sessions_list.count()):
        item = queue.sessions_list.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == "r3":
            item.setCheckState(Qt.CheckState.Unchecked)
    assert len(queue.queue) == 2
    queue.apply_rule("majority")
    assert "2 tie(s) left" in queue.message.text()
    assert len(queue.queue) == 2
    # the third reader breaks the tie on ids[1] only
    for i in range(queue.sessions_list.count()):
        queue.sessions_list.item(i).setCheckState(Qt.CheckState.Checked)
    queue.apply_rule("majority")
    assert project.labels.get(ids[1]) == "NFF"
    assert adjudications(project, ids[1])[0].rule == "majority"
    queue.close()
