import json

import pytest

from engine.runs import EventReader, EventWriter, read_events


def test_events_have_increasing_seq_across_restarts(tmp_path):
    path = tmp_path / "run" / "events.jsonl"
    with EventWriter(path) as w:
        w.emit("started", fold=0)
        w.emit("progress", step=1, total=10)
    with EventWriter(path) as w:  # a resumed run continues the sequence
        assert w.emit("metric", name="val_auc", value=0.5)["seq"] == 3
    assert [e["seq"] for e in read_events(path)] == [1, 2, 3]
    with pytest.raises(ValueError, match="unknown event type"), EventWriter(path) as w:
        w.emit("exploded")


def test_reader_tails_and_skips_partial_and_torn_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    reader = EventReader(path)
    assert reader.read_new() == []
    w = EventWriter(path)
    w.emit("started")
    assert [e["type"] for e in reader.read_new()] == ["started"]
    # A half-written line is not returned until it is complete.
    with open(path, "a") as fh:
        fh.write('{"seq": 2, "t": 0, "type": "lo')
    assert reader.read_new() == []
    with open(path, "a") as fh:
        fh.write('g", "message": "hi"}\n')
    assert reader.read_new()[0]["message"] == "hi"
    w.close()
    # A writer killed mid-line leaves a torn line; the next writer starts on a fresh line.
    with open(path, "a") as fh:
        fh.write('{"seq": 3, "t"')
    with EventWriter(path) as w2:
        assert w2.emit("finished")["seq"] == 3
    events = read_events(path)
    assert [e["type"] for e in events] == ["started", "log", "finished"]
    assert all(json.loads(line) for line in path.read_text().splitlines()[-1:])


def test_reader_skips_an_event_whose_seq_is_not_a_number(tmp_path):
    from engine.runs import EventReader

    path = tmp_path / "events.jsonl"
    path.write_text('{"seq": "x", "type": "log"}\n{"seq": 1, "type": "started"}\n')
    assert [e["seq"] for e in EventReader(path).read_new()] == [1]
