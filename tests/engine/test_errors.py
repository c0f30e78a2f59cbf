"""The engine's error vocabulary and the one place the CLI maps it to exit code 2."""

from __future__ import annotations

import argparse

import pytest

import engine.cli as cli
from engine.errors import EngineError, InvalidInput, NotFound


def test_not_found_is_a_lookup_error_with_a_plain_message():
    err = NotFound("no experiment named 'vit' in /p.affproj")
    assert isinstance(err, LookupError) and isinstance(err, EngineError)
    assert str(err) == "no experiment named 'vit' in /p.affproj"  # not KeyError's quoted repr


def test_invalid_input_is_a_value_error():
    assert isinstance(InvalidInput("x"), ValueError)


def test_cli_error_is_an_engine_error():
    assert issubclass(cli.CliError, EngineError)


@pytest.mark.parametrize("exc", [NotFound("model 'foo' is not registered"), InvalidInput("bad name 'a/b'")])
def test_cli_maps_every_engine_error_to_exit_2(monkeypatch, capsys, exc):
    def failing(_args):
        raise exc

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=failing)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err == f"affengine: error: {exc}\n"
    assert "Traceback" not in err
