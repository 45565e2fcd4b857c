"""Configuration precedence and conversion."""
import pytest

from common.core.config import load_config


def test_defaults_then_shared_env_then_service_env_then_overrides():
    env = {"MODELCHAIN_MAX_BATCH_SIZE": "16", "MODELCHAIN_WARMUP": "false",
           "SVC_MAX_BATCH_SIZE": "8", "SVC_MODEL_DIR": "/models"}
    config = load_config("SVC_", {"MODEL_DIR": ""}, environ=env)
    assert config["MAX_BATCH_SIZE"] == 8 and config["WARMUP"] is False
    assert config["MODEL_DIR"] == "/models"
    assert config["MAX_TEXT_LENGTH"] == 5000
    assert load_config("SVC_", {}, {"MAX_BATCH_SIZE": 3}, environ=env)["MAX_BATCH_SIZE"] == 3


def test_environment_values_take_the_type_of_their_default():
    config = load_config("SVC_", {"RATIO": 0.5, "NAMES": []},
                         environ={"SVC_RATIO": "0.25", "SVC_NAMES": '["a", "b"]',
                                  "SVC_BATCHING": "1"})
    assert config["RATIO"] == 0.25 and config["NAMES"] == ["a", "b"]
    assert config["BATCHING"] is True


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(ValueError, match="SVC_MAX_BATCH_SIZE"):
        load_config("SVC_", environ={"SVC_MAX_BATCH_SIZE": "many"})


def test_unknown_environment_variables_are_ignored():
    assert "SURPRISE" not in load_config("SVC_", environ={"SVC_SURPRISE": "1"})
