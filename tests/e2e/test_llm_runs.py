"""Whole LLM runs on a tiny random Llama through quick_start.run: refusals before the SASRec stage, and a run
rebuilt from its checkpoint."""

import pytest

from recbole_ilora.errors import ConfigurationError
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
