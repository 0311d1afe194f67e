"""The `ssdref` command's error contract: a bad argument or input file prints one line on stderr,
`ssdref <command>: error: <message>`, and exits 2 (usage) or 1 (a file's content), no traceback."""
import os
import re

import pytest

from ssdref.cli import error_line, main

DATA = os.path.join(os.path.dirname(__file__), "data", "checkpoints")
PREFIX = os.path.join(DATA, "tiny")


def run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(err, command, match):
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"ssdref {command}: error: "), err
    assert re.search(match, err), err


@pytest.mark.parametrize("argv, match", [
    (["--params", PREFIX], r"--data-shape must be given: the checkpoint .*tiny records none"),
    (["--params", PREFIX, "--epoch", "7"], r"--params/--epoch must name an existing checkpoint, got "
                                           r"'.*tiny-0007\.params' \(no such file\)"),
    (["--data-shape", "7"], r"data_shape for 'tiny' must be >= 32, got 7"),
    (["--data-shape", "-3"], r"--data-shape must be > 0, got -3"),
    (["--num-classes", "0"], r"--num-classes must be > 0, got 0"),
    (["--batch", "0"], r"--batch must be > 0, got 0"),
])
def test_export_onnx_argument_errors_exit_2_with_one_line(tmp_path, capsys, argv, match):
    code, err = run(["export-onnx", str(tmp_path / "x.onnx")] + argv, capsys)
    assert code == 2
    assert_one_line_error(err, "export-onnx", match)


def test_export_onnx_into_a_missing_folder_exits_2_before_any_work(tmp_path, capsys):
    code, err = run(["export-onnx", str(tmp_path / "missing" / "x.onnx")], capsys)
    assert code == 2
    assert_one_line_error(err, "export-onnx", r"OUT must be a file in an existing folder, got "
                                              r"'.*missing/x\.onnx'")


@pytest.mark.parametrize("argv, match", [
    (["--data-shape", "7"], r"data_shape for 'tiny' must be >= 32, got 7"),
    (["--num-classes", "0"], r"--num-classes must be >= 1, got 0"),
    (["--image", "-1"], r"--image must be >= 0, got -1"),
    (["--params", PREFIX], r"--epoch must be given with --params"),
    (["--epoch", "2"], r"--epoch needs --params"),
    (["--params", os.path.join(DATA, "nowhere"), "--epoch", "2"],
     r"params must name an existing checkpoint, got '.*nowhere-0002\.params' \(no such file\)"),
])
def test_explain_argument_errors_exit_with_one_line(tmp_path, capsys, argv, match):
    code, err = run(["explain", "--out", str(tmp_path), "--no-figures"] + argv, capsys)
    assert code in (1, 2)
    assert_one_line_error(err, "explain", match)


def test_explain_with_a_checkpoint_of_another_config_is_a_one_line_error(tmp_path, capsys):
    # The tutorial checkpoint was trained with --demo-config: without it the shapes disagree.
    prefix = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "figures", "tiny")
    code, err = run(["explain", "--params", prefix, "--epoch", "8", "--out", str(tmp_path),
                     "--no-figures"], capsys)
    assert code == 1
    assert_one_line_error(err, "explain", r"the parameters must fit the graph .* --demo-config")


def test_explain_out_that_is_a_file_exits_2(tmp_path, capsys):
    out = tmp_path / "a-file"
    out.write_text("x")
    code, err = run(["explain", "--out", str(out), "--no-figures"], capsys)
    assert code == 2
    assert_one_line_error(err, "explain", r"--out must be a folder")


def test_traceback_is_kept_when_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("SSDREF_TRACEBACK", "1")
    with pytest.raises(ValueError, match="--data-shape must be given"):
        main(["export-onnx", str(tmp_path / "x.onnx"), "--params", PREFIX])


def test_error_line_folds_newlines_and_names_files():
    assert error_line(ValueError("a\n  b")) == "a b"
    assert error_line(FileNotFoundError(2, "No such file or directory", "x.png")) == \
        "No such file or directory: x.png"
    assert error_line(ValueError()) == "ValueError"


# ---- the README's commands, each run once through main([...]) ----
def test_gradcheck_command_checks_every_op_with_a_backward(capsys):
    from ssdref.autograd import registry
    from ssdref.autograd.gradcheck_suite import CASES
    with_backward = {name for name, op in registry.all_ops().items() if op.backward is not None
                     and not name.startswith("_test_")}
    assert with_backward - {case.op for case in CASES} == set()
    assert main(["gradcheck"]) == 0
    table = capsys.readouterr().out
    assert "FAIL" not in table
    for op in ("BlockGrad", "Dropout", "make_loss", "broadcast_power", "_rpower_scalar"):
        assert re.search(rf"^{op}\s+\d+\s+\S+\s+pass$", table, re.M), op


def test_conformance_command_runs_onnxruntime_through_main(capsys):
    import importlib.util
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.fail("onnxruntime (a declared extra) is not importable: this smoke test cannot run")
    assert main(["conformance", "--backend", "onnxruntime", "--examples", "1"]) == 0
    out = capsys.readouterr().out
    assert "ssdref vs onnxruntime" in out and "0 op(s) with mismatches" in out


def test_conformance_command_rejects_zero_examples_with_one_line(capsys):
    code, err = run(["conformance", "--backend", "mxnet", "--examples", "0"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--examples must be >= 1, got 0" in err


def test_demo_command_runs_through_main(tmp_path, capsys, monkeypatch):
    import numba

    from ssdref import demo
    from ssdref.cli import DEMO_THREAD_ENV
    # main() gives `ssdref demo` one-thread pools by setting these before NumPy loads; in this
    # process the pools are already up: pin them to what they are (Numba refuses a changed
    # NUMBA_NUM_THREADS once its threads run), and have monkeypatch put everything back after.
    for name in DEMO_THREAD_ENV:
        current = str(numba.config.NUMBA_NUM_THREADS) if name == "NUMBA_NUM_THREADS" else "1"
        monkeypatch.setenv(name, os.environ.get(name, current))
    tiny = dict(demo.SETTINGS["quick"], num_train=16, epochs=1, lr_steps=[], num_val=8)
    monkeypatch.setitem(demo.SETTINGS, "quick", tiny)
    out = tmp_path / "demo-out"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    assert "mAP" in capsys.readouterr().out
    assert (out / "detections.png").stat().st_size > 0


def test_golden_generate_command_writes_a_declared_case_through_main(tmp_path, capsys):
    out = tmp_path / "golden"
    assert main(["golden", "generate", "--out", str(out), "--case", "MultiBoxPrior_T1"]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert "manifest.json" in written and any(name.endswith(".npz") for name in written)


@pytest.mark.parametrize("argv, match", [
    (["run-checkpoint", "prefix"], r"^ssdref run-checkpoint: error: the following arguments are "
                                   r"required: epoch, IMAGE \(see ssdref run-checkpoint --help\)$"),
    (["export-onnx", "x.onnx", "--data-shape", "big"], r"^ssdref export-onnx: error: argument "
                                                        r"--data-shape: invalid int value: 'big'"),
    (["no-such-command"], r"^ssdref: error: argument command: invalid choice: 'no-such-command'"),
    (["export-onnx", "x.onnx", "--network", "nonet"], r"^ssdref export-onnx: error: argument --network: "
                                                      r"invalid choice: 'nonet' \(choose from 'tiny', "),
    (["explain", "--network", "nonet"], r"^ssdref explain: error: argument --network: invalid choice: "
                                        r"'nonet' \(choose from 'tiny', "),
])
def test_argparse_usage_errors_are_one_line_with_exit_2(capsys, argv, match):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and re.search(match, err.strip()), err
