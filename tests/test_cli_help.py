"""The `ssdref` command's surface: help text for every argument, --version, and a status line for
the long steps (ssdref.progress)."""
import argparse
import io
import os
import time

import pytest

import ssdref
from ssdref import progress
from ssdref.cli import build_parser, main

DATA = os.path.join(os.path.dirname(__file__), "data", "checkpoints")


def _subcommands(parser, prefix="ssdref"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subcommands(sub, f"{prefix} {name}")


# ssdref/divergence.py's --runtime (another module's owner): the one gap left, reported for its owner.
KNOWN_MISSING = set()


def test_every_argument_of_every_command_has_help_text():
    missing = [f"{command} {action.dest}" for command, sub in _subcommands(build_parser())
               for action in sub._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
               and not (action.help or "").strip()]
    assert set(missing) <= KNOWN_MISSING, missing


def test_every_command_has_a_one_line_help_in_the_listing():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {a.dest for a in sub._choices_actions if (a.help or "").strip()} == set(sub.choices)


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"ssdref {ssdref.__version__}"


def test_status_line_appears_only_for_steps_longer_than_the_delay(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    with progress.status("quick step", delay=0.5):
        pass
    with progress.status("long step", delay=0.05):
        time.sleep(0.3)
    assert err.getvalue() == "long step ...\n"


@pytest.mark.parametrize("argv, line", [
    (["run-checkpoint", os.path.join(DATA, "tiny"), "2", os.path.join(DATA, "image.npy"), "--out", ""],
     "run-checkpoint: 1 image(s) through tiny ..."),
    (["explain", "--no-figures", "--out", "{tmp}"], "explain: tracing the image through SSD ..."),
    (["export-onnx", "{tmp}/m.onnx", "--no-runtime-check"], "export-onnx: writing and checking {tmp}/m.onnx ..."),
    (["conformance", "--backend", "torch", "--examples", "1"], "conformance: ssdref vs torch, 1 examples per op ..."),
    (["gradcheck"], "gradcheck: float64 central differences of every op ..."),
])
def test_long_commands_show_a_status_line(tmp_path, capsys, monkeypatch, argv, line):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    if argv[0] == "gradcheck":        # the step itself is what is shown; the 16 s run is not needed
        monkeypatch.setattr("ssdref.cli.gradcheck_table", lambda verbose=False: (time.sleep(0.2), ("", True))[1])
    if argv[0] == "conformance":
        pytest.importorskip("torch", reason="conformance --backend torch needs torch (extra 'interop')")
        monkeypatch.setattr("ssdref.conformance.run_backend", lambda *a: (time.sleep(0.2), [])[1])
    if argv[0] == "export-onnx":
        pytest.importorskip("onnx", reason="export-onnx needs onnx (extra 'interop')")
    main([a.format(tmp=tmp_path) for a in argv])
    assert line.format(tmp=tmp_path) in capsys.readouterr().err.splitlines()
