"""Whole LLM runs on a tiny random Llama through quick_start.run: refusals before the SASRec stage, and a run
rebuilt from its checkpoint."""

import json

import pytest
from recbole.trainer import Trainer

from recbole_ilora.errors import ConfigurationError, RunInterrupted
from recbole_ilora.quick_start import run
from recbole_ilora.runners import get_trainer


def test_eval_batch_size_below_one_users_candidates_is_refused_before_any_run(llm_setup, tmp_path):
    with pytest.raises(ConfigurationError, match="eval_batch_size=10 is below the 20 candidates of one valid user"):
        run("iLoRA", "tiny", config_dict={**llm_setup["base"], "llm_path": llm_setup["llm"], "eval_batch_size": 10,
                                          "item_domain": "movie", "item_text_field": "movie_title",
                                          "results_dir": str(tmp_path / "results")})
    assert not (tmp_path / "results").exists()  # not even the SASRec stage ran


def test_load_data_and_model_rebuilds_an_llm_run_that_scores_as_it_did(llm_setup, tmp_path):
    """RecBole's load_data_and_model indexes state_dict, which LLM checkpoints (trained weights only) lack; this
    package's rebuilds the model from the checkpoint's settings and reproduces the run's test metrics."""
    from recbole_ilora.quick_start import load_data_and_model

    result = run("iLoRA", "tiny", config_dict={
        **llm_setup["base"], "llm_path": llm_setup["llm"], "sasrec_checkpoint": llm_setup["encoder"], "dtype": "float32",
        "item_domain": "movie", "item_text_field": "movie_title", "train_batch_size": 4, "eval_batch_size": 40,
        "train_samples_per_epoch": 8, "checkpoint_dir": str(tmp_path)})
    config, model, _, _, _, test_data = load_data_and_model(result["checkpoint"])
    assert type(model).__name__ == "iLoRA" and config["sasrec_checkpoint"] == llm_setup["encoder"]
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    again = trainer.evaluate(test_data, load_best_model=False)
    assert {key: round(float(value), 4) for key, value in again.items()} == result["test"]


def test_a_run_stopped_in_its_encoder_stage_resumes_that_stage_when_run_again(llm_setup, tmp_path, monkeypatch):
    """Ctrl-C while iLoRA trains its SASRec encoder names the command the user typed (not the encoder's generated
    one); that command again resumes the encoder from its last checkpoint, and the encoder ends as one never
    stopped."""
    settings = {**llm_setup["base"], "llm_path": llm_setup["llm"], "item_domain": "movie",
                "item_text_field": "movie_title", "train_batch_size": 4, "eval_batch_size": 40,
                "train_samples_per_epoch": 8, "encoder_config": {"epochs": 3, "eval_step": 1, "stopping_step": 10},
                "checkpoint_dir": str(tmp_path / "saved"), "results_dir": str(tmp_path / "results")}
    train_epoch = Trainer._train_epoch

    def stopped_at_third_epoch(self, train_data, epoch_idx, *args, **kwargs):
        if epoch_idx == 2:
            raise KeyboardInterrupt
        return train_epoch(self, train_data, epoch_idx, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_train_epoch", stopped_at_third_epoch)
        with pytest.raises(RunInterrupted, match=r"stopped while training a run this one needs first \(its last "
                                                 r"checkpoint is \S+SASRec-\S+\.pth\); continue with: ") as stopped:
            run("iLoRA", "tiny", config_dict=settings)
    assert "--model=SASRec" not in str(stopped.value)
    resumed = run("iLoRA", "tiny", config_dict=settings)
    [encoder] = (tmp_path / "results" / "encoders").rglob("SASRec-*.json")
    record = json.loads(encoder.read_text())
    assert record["resumed_from"] and record["epochs_trained"] == 3 and resumed["test"]
    run("iLoRA", "tiny", config_dict={**settings, "checkpoint_dir": str(tmp_path / "whole"),
                                      "results_dir": str(tmp_path / "whole")})
    [never_stopped] = (tmp_path / "whole" / "encoders").rglob("SASRec-*.json")
    whole = json.loads(never_stopped.read_text())
    assert record["test"] == whole["test"] and record["per_user_test"] == whole["per_user_test"]
