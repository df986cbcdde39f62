"""Runs a model needs before its own: iLoRA's frozen SASRec encoder is an ordinary SASRec run.

The encoder's run copies every data, split and evaluation key of the LLM run (plus ``encoder_config`` overrides),
so it sees exactly the LLM run's items, split and candidates; with no overrides it *is* the SASRec baseline of the
same seed. A finished run is found by its config hash (its JSON result, and a checkpoint that really is that
experiment's), and only a missing one is trained, as the first stage of the command. With overrides (the CPU
default caps its epochs) it is another experiment than the baseline, so its JSON result goes to
``<results_dir>/encoders/``, where a leaderboard reading ``<results_dir>`` does not mistake it for the baseline.
"""

from pathlib import Path

from recbole.utils import set_color

from recbole_ilora import results

ENCODER_RESULTS_FOLDER = "encoders"

# Besides the dataset keys (RecBole's ``parameters["Dataset"]``), what the encoder run shares with the LLM run.
SHARED_KEYS = ("seed", "reproducibility", "protocol", "eval_args", "repeatable", "metrics", "topk", "valid_metric",
               "checkpoint_dir", "results_dir", "cpu_threads", "show_progress", "state", "gpu_id", "use_gpu")


def encoder_run_config(config):
    """``config_dict`` of the SASRec run that provides the encoder of the LLM run configured by ``config``."""
    keys = list(config.parameters["Dataset"]) + list(SHARED_KEYS)
    shared = {key: config[key] for key in keys if key in config}
    shared["data_path"] = str(Path(config["data_path"]).parent)  # the resolved folder's parent resolves back to it
    if config["encoder_config"]:
        shared["results_dir"] = str(Path(config["results_dir"]) / ENCODER_RESULTS_FOLDER)
        shared.update(config["encoder_config"])
    return shared


def ensure_required_runs(config, model_class, run):
    """Make sure the runs ``model_class.required_runs(config)`` lists exist; store each one's checkpoint path in
    ``config`` under its key. ``run`` trains a missing one (``quick_start.run``). Returns ``{key: (path, how)}``."""
    from recbole_ilora.config import Config  # imports RecBole's Config: only when a run needs prerequisites

    done = {}
    for key, (model, config_dict) in model_class.required_runs(config).items():
        required = Config(model, config["dataset"], config_dict=config_dict)
        checkpoint = results.finished_checkpoint(results.result_path(required))
        how = "reused finished run"
        if checkpoint is None:
            print(set_color(f"Stage: training {model} for {config['model']}'s {key}", "yellow"), flush=True)
            checkpoint = run(model, config["dataset"], config_dict=config_dict)["checkpoint"]
            how = f"trained {model} first"
        config.set_prerequisite(key, checkpoint)
        done[key] = (checkpoint, how)
    return done
