"""ssdref.train helpers: the example's lr schedule and MXNet-format checkpoints."""
import numpy as np
import pytest

from ssdref.io import load_ndarrays
from ssdref.train import Checkpoint, get_lr_scheduler, load_checkpoint, parse_lr_steps, save_checkpoint


def test_example_defaults_give_update_count_steps_41360_and_82720():
    lr, sched = get_lr_scheduler(0.002, "80, 160", 0.1, 16551, 32, 0)
    assert lr == 0.002 and sched.step == [41360, 82720] and sched.factor == 0.1


def test_resume_pre_applies_passed_steps_and_shifts_the_rest():
    lr, sched = get_lr_scheduler(0.002, "80, 160", 0.1, 16551, 32, 100)
    assert lr == 0.002 * 0.1 and sched.step == [517 * 60]
    lr, sched = get_lr_scheduler(0.002, [80, 160], 0.1, 16551, 32, 160)
    assert lr == 0.002 * 0.1 * 0.1 and sched is None


def test_factor_of_one_means_no_schedule():
    assert get_lr_scheduler(0.01, "5", 1.0, 100, 10) == (0.01, None)
    assert parse_lr_steps(" 3 ,7, ") == [3, 7]
    with pytest.raises(ValueError, match="lr_factor"):
        get_lr_scheduler(0.01, "5", 0.0, 100, 10)


class FakeSymbol:
    def __init__(self):
        self.saved = []

    def save(self, path):
        self.saved.append(path)
        with open(path, "w") as f:
            f.write("{}")


def test_checkpoint_callback_saves_epoch_plus_one_with_arg_then_aux_keys(tmp_path):
    sym = FakeSymbol()
    ckpt = Checkpoint(tmp_path / "model" / "ssd", symbol=sym, period=2)
    arg = {"conv_weight": np.ones((2, 2), np.float32), "conv_bias": np.zeros(2, np.float32)}
    aux = {"bn_moving_var": np.ones(2, np.float32)}
    assert ckpt(0, arg, aux) is None
    path = ckpt(1, arg, aux)
    assert path.endswith("ssd-0002.params") and sym.saved == [str(tmp_path / "model" / "ssd") + "-symbol.json"]
    assert list(load_ndarrays(path)) == ["arg:conv_weight", "arg:conv_bias", "aux:bn_moving_var"]
    _, arg_back, aux_back = load_checkpoint(str(tmp_path / "model" / "ssd"), 2)
    np.testing.assert_array_equal(arg_back["conv_weight"], arg["conv_weight"])
    assert list(aux_back) == ["bn_moving_var"]


def test_save_checkpoint_without_symbol_writes_only_params(tmp_path):
    path = save_checkpoint(str(tmp_path / "p"), 7, None, {"w": np.ones(1, np.float32)}, {})
    assert path.endswith("p-0007.params")
    assert not (tmp_path / "p-symbol.json").exists()
