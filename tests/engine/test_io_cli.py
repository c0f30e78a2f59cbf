"""``affengine import``: summary, errors as ``path: reason``, exit codes 0/1/2."""

import argparse

import pytest

from engine.cli import CliError, _import
from engine.store import Project
from tests.engine._dicom_factory import femur_like, write_dicom


def _run(*argv):
    parser = argparse.ArgumentParser(prog="affengine")
    _import.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["import", *map(str, argv)])
    return args.func(args)


@pytest.fixture
def study(tmp_path):
    Project.create(tmp_path / "Study").close()
    src = tmp_path / "src"
    write_dicom(src / "AFF" / "p1" / "a.dcm", femur_like(20, 16, 12), patient_id=None)
    write_dicom(src / "NFF" / "p2" / "b.dcm", femur_like(20, 16, 12, seed=1), patient_id=None)
    return tmp_path / "Study.affproj", src


def test_import_prints_a_summary_and_exits_0(study, capsys):
    project, src = study
    assert _run(project, src, "--workers", 1, "--reader", "anna") == 0
    out = capsys.readouterr()
    assert "2 added" in out.out and "2 labelled" in out.out
    assert "import: 2/2" in out.err  # progress lines (stderr is not a terminal here)
    with Project.open(project) as p:
        assert p.images.counts("label") == {"AFF": 1, "NFF": 1}
        assert {c.reader for c in p.labels.history()} == {"anna"}
    assert _run(project, src, "--no-folder-labels") == 0
    assert "0 added" in capsys.readouterr().out


def test_skipped_files_are_listed_and_exit_1(study, capsys):
    project, src = study
    (src / "AFF" / "p1" / "bad.dcm").write_bytes(b"")
    assert _run(project, src, "--workers", 1) == 1
    err = capsys.readouterr().err
    assert f"{src / 'AFF' / 'p1' / 'bad.dcm'}: empty file (0 bytes)" in err


def test_no_folder_labels_and_patient_rule(study):
    project, src = study
    assert _run(project, src, "--no-folder-labels", "--patient-rule", "stem") == 0
    with Project.open(project) as p:
        assert p.images.counts("label") == {"unlabelled": 2}
        assert p.images.counts("patient") == {"a": 1, "b": 1}


@pytest.mark.parametrize("argv", [
    ("{tmp}/nope.affproj", "{src}"),  # no project
    ("{project}", "{tmp}/missing"),  # no such source
    ("{project}",),  # nothing to import
    ("{project}", "{src}", "--patient-rule", "no-group"),  # regex without a group
    ("{project}", "{src}", "--workers", "0"),
    ("{project}", "{src}", "--manifest", "{tmp}/none.csv"),
])
def test_bad_arguments_are_usage_errors(study, tmp_path, argv):
    project, src = study
    argv = [a.format(tmp=tmp_path, src=src, project=project) for a in argv]
    with pytest.raises(CliError):
        _run(*argv)
    with Project.open(project) as p:
        assert p.images.count() == 0
