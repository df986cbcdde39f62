"""Model / trainer lookup: this package first, RecBole second, and helpful errors."""

import sys

import pytest
from recbole.model.sequential_recommender import GRU4Rec, SASRec
from recbole import trainer as recbole_trainers
from recbole.trainer import Trainer

from recbole_ilora import registry
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.runners import get_trainer
from recbole_ilora.trainer import LLMTrainer, RunRecordingMixin
from recbole_ilora.trainer.recbole_trainers import RECORDED_TRAINERS, RecordedTrainer, recorded_trainer
from recbole_ilora.trainer.recording import RecBoleCheckpoints


def test_recbole_models_are_found():
    assert registry.get_model("SASRec") is SASRec
    assert registry.get_model("GRU4Rec") is GRU4Rec


def test_own_models_are_looked_up_first(tmp_path, monkeypatch):
    (tmp_path / "own_models.py").write_text(
        "from recbole.model.sequential_recommender import SASRec as Base\n"
        "class SASRec(Base):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.OWN_MODELS, "SASRec", "own_models")
    found = registry.get_model("SASRec")
    assert found is not SASRec and found.__module__ == "own_models"
    sys.modules.pop("own_models", None)


@pytest.mark.parametrize("typo, suggestion", [("SASRek", "SASRec"), ("sasrec", "SASRec"), ("GRU4rec", "GRU4Rec")])
def test_unknown_model_suggests_close_names(typo, suggestion):
    with pytest.raises(ConfigurationError, match=rf"Unknown model '{typo}'.*Did you mean: .*\b{suggestion}\b"):
        registry.get_model(typo)


def test_far_off_model_name_lists_known_models():
    with pytest.raises(ConfigurationError, match=r"Known models: .*SASRec"):
        registry.get_model("Zzzzzzzz")


def test_trainer_falls_back_to_recbole_with_run_recording():
    trainer_class = get_trainer(SASRec.type, "SASRec")
    assert trainer_class is RecordedTrainer  # a declared class under its own name, RecBole's Trainer untouched
    assert issubclass(trainer_class, Trainer) and Trainer.__name__ == "Trainer"
    assert issubclass(trainer_class, RunRecordingMixin) and issubclass(trainer_class, RecBoleCheckpoints)
    assert all(get_trainer(None, name) is LLMTrainer for name in ("iLoRA", "LoRARec", "TALLRec"))


def test_every_recbole_trainer_has_a_recorded_class_or_is_refused():
    """A RecBole upgrade that adds a trainer fails here instead of running it unrecorded."""
    trainers = {cls for cls in vars(recbole_trainers).values() if isinstance(cls, type) and issubclass(cls, Trainer)}
    assert trainers == set(RECORDED_TRAINERS)
    with pytest.raises(ConfigurationError, match="RecBole's XGBoostTrainer, which this package does not run"):
        recorded_trainer(None, "XGBoost")


def test_recbole_models_do_not_leave_autograd_anomaly_detection_on():
    """RecBole's sine.py switches anomaly detection on when any sequential model is imported; it made every backward
    pass record stack traces (LLM training 2.5-3.5x slower). The compat shim switches it off again."""
    import torch

    import recbole.model.sequential_recommender  # noqa: F401

    registry.get_model("SASRec")
    registry.get_model("iLoRA")
    assert not torch.is_anomaly_enabled()
