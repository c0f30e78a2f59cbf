"""``affengine reads ...``: create, list, export, simulate, agreement, queue, adjudicate, compare."""

from __future__ import annotations

import csv
import json

import pytest

from engine.cli import main
from engine.reads import adjudications, get_session, reads_of, session_image_ids
from engine.store import Project
from tests.engine._reads_factory import manifest_project


@pytest.fixture
def path(tmp_path):
    p, _ = manifest_project(tmp_path, patients=40, per_patient=2)
    return str(p)


def test_create_list_export(path, tmp_path, capsys):
    assert main(["reads", "create", path, "--name", "b1", "--reader", "ann", "--blind", "--sample", "5",
                 "--seed", "2", "--confidence"]) == 0
    assert "blind, 10 images" in capsys.readouterr().out
    assert main(["reads", "create", path, "--name", "ap", "--reader", "bob", "--view", "AP"]) == 0
    assert main(["reads", "create", path, "--name", "b1", "--reader", "ann"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["reads", "create", path, "--name", "f", "--reader", "ann", "--split", "nosuch",
                 "--fold", "0"]) == 2
    assert "no split 'nosuch'" in capsys.readouterr().err
    assert main(["reads", "create", path, "--name", "f", "--reader", "ann", "--fold", "0"]) == 2
    assert "--split NAME and --fold" in capsys.readouterr().err
    assert main(["reads", "list", path, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["mode"], r["images"], r["read"]) for r in rows] == [("b1", "blind", 10, 0),
                                                                              ("ap", "open", 40, 0)]
    with Project.open(path) as p:
        assert get_session(p, "b1").confidence
        assert all(p.images.get(i).view == "AP" for i in session_image_ids(p, "ap"))
    out = tmp_path / "r.csv"
    assert main(["reads", "simulate", path, "--readers", "2", "--sensitivity", "0.7",
                 "--specificity", "0.95", "--seed", "0"]) == 0
    assert "simulated sim-2" in capsys.readouterr().out
    assert main(["reads", "export", path, "--name", "sim-1", "--out", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 80 and {"image_id", "reader", "label", "confidence", "at"} <= set(rows[0])
    assert main(["reads", "export", path, "--name", "nosuch", "--out", str(out)]) == 2
    assert "no reading session 'nosuch'" in capsys.readouterr().err


def test_agreement_queue_adjudicate(path, capsys):
    assert main(["reads", "simulate", path, "--readers", "3", "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["reads", "agreement", path, "--sessions", "sim-1", "sim-2"]) == 0
    text = capsys.readouterr().out
    assert "Cohen's kappa" in text and "95% CI" in text and "weighted kappa" in text
    assert main(["reads", "agreement", path, "--sessions", "sim-1", "sim-2", "sim-3", "--json"]) == 0
    ag = json.loads(capsys.readouterr().out)
    k = ag["pairs"][0]["kappa"]
    assert k["ci_low"] < k["kappa"] < k["ci_high"] and ag["fleiss"]["n_raters"] == 3
    assert main(["reads", "agreement", path, "--sessions", "sim-1"]) == 2
    assert main(["reads", "queue", path, "--sessions", "sim-1", "sim-2", "--json"]) == 0
    queue = json.loads(capsys.readouterr().out)
    assert queue and all(len(set(q["calls"].values())) > 1 for q in queue)
    first = queue[0]["image_ids"][0]
    assert main(["reads", "adjudicate", path, "--sessions", "sim-1", "sim-2", "--image", str(first),
                 "--set", "AFF", "--adjudicator", "chief"]) == 0
    assert "settling 2 read(s)" in capsys.readouterr().out
    with Project.open(path) as p:
        (adj,) = adjudications(p, first)
        assert (adj.label, adj.adjudicator, adj.rule, len(adj.read_ids)) == ("AFF", "chief", "manual", 2)
        assert p.labels.history(first)[-1].source == "adjudication"
    assert main(["reads", "queue", path, "--sessions", "sim-1", "sim-2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(queue) - 1
    assert main(["reads", "adjudicate", path, "--sessions", "sim-1", "sim-2", "sim-3",
                 "--rule", "majority"]) == 0
    assert "tie(s) left in the queue" in capsys.readouterr().out
    with Project.open(path) as p:
        n_read = len(reads_of(p, "sim-1"))
        assert sum(1 for a in adjudications(p) if a.rule == "majority") == n_read  # 3 readers: no ties
    assert main(["reads", "adjudicate", path, "--sessions", "sim-1", "sim-2", "--image", "1"]) == 2
    assert "needs --set" in capsys.readouterr().err
    assert main(["reads", "adjudicate", path, "--sessions", "sim-1", "sim-2"]) == 2
    assert main(["reads", "adjudicate", path, "--sessions", "sim-1", "sim-2", "--patient", "PH00001",
                 "--set", "NFF"]) == 0
    assert "on 2 image(s)" in capsys.readouterr().out
