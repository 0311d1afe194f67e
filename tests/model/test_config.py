"""ssdref.model.config: every configuration of MXNet example/ssd's symbol_factory (spec §6.3), and tiny."""
import pytest

from ssdref.model import get_config
from ssdref.model.config import CONFIG_NAMES


def test_ssd300_settings_match_spec():
    config = get_config("vgg16_reduced", 300, 20)
    assert config["from_layers"] == ["relu4_3", "relu7", "", "", "", ""]
    assert config["num_filters"] == [512, -1, 512, 256, 256, 256]
    assert config["strides"] == [-1, -1, 2, 2, 1, 1]
    assert config["pads"] == [-1, -1, 1, 1, 0, 0]
    assert config["normalizations"] == [20, -1, -1, -1, -1, -1]
    assert config["steps"] == [x / 300.0 for x in [8, 16, 32, 64, 100, 300]]
    assert config["sizes"][0] == [.1, .141] and config["ratios"][1][-1] == 1. / 3
    assert config["network"] == "vgg16_reduced" and config["num_classes"] == 20


def test_ssd512_layout_from_448_and_steps_only_at_512():
    config = get_config("vgg16_reduced", 512, 20)
    assert len(config["from_layers"]) == 7 and config["strides"][-1] == 1 and config["pads"][-1] == 1
    assert config["steps"] == [x / 512.0 for x in [8, 16, 32, 64, 128, 256, 512]]
    assert get_config("vgg16_reduced", 448, 20)["steps"] == []
    assert get_config("vgg16_reduced", 320, 20)["steps"] == []


@pytest.mark.parametrize("name, sources, num_layers", [("resnet50", ["_plus12", "_plus15"], 50),
                                                       ("resnet101", ["_plus29", "_plus32"], 101)])
def test_resnet_configs_name_network_resnet(name, sources, num_layers):
    config = get_config(name, 300, 20)
    assert config["network"] == "resnet" and config["num_layers"] == num_layers
    assert config["image_shape"] == "3,224,224"
    assert config["from_layers"] == sources + ["", "", "", ""]
    assert config["num_filters"] == [-1, -1, 512, 256, 256, 128]
    assert config["normalizations"] == -1 and config["steps"] == []


def test_inceptionv3_config():
    config = get_config("inceptionv3", 512, 20)
    assert config["from_layers"][:2] == ["ch_concat_mixed_7_chconcat", "ch_concat_mixed_10_chconcat"]
    assert config["strides"] == [-1, -1, 2, 2, 2, 2] and config["pads"] == [-1, -1, 1, 1, 1, 1]


def test_each_call_returns_fresh_lists():
    first = get_config("vgg16_reduced", 300, 20)
    first["num_filters"].pop(0)  # what a build does (MXNet's num_channels.pop quirk)
    assert get_config("vgg16_reduced", 300, 20)["num_filters"][0] == 512


def test_kwargs_override_settings():
    assert get_config("tiny", 64, 3, nms_thresh=0.45)["nms_thresh"] == 0.45


def test_unknown_network_and_tiny_too_small_raise():
    with pytest.raises(NotImplementedError, match="mobilenet"):
        get_config("mobilenet", 300, 20)
    with pytest.raises(ValueError, match="tiny.*>= 32"):
        get_config("tiny", 16, 3)
    assert set(CONFIG_NAMES) == {"vgg16_reduced", "inceptionv3", "resnet50", "resnet101", "tiny"}
