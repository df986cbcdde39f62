"""One training + evaluation run, mirroring ``recbole.quick_start.run_recbole`` step by step.

Differences from RecBole's: this package's Config / registry / fixed candidates, a configured CPU thread
count, checkpoint loading that works on torch >= 2.6, timings per stage, and a JSON result file per run.
It does not import ``recbole.quick_start`` (which drags in ray and its tune loggers).
"""

import logging
import os
import time
from datetime import datetime, timezone
from logging import getLogger

import torch
from recbole.data import create_dataset
from recbole.data.transform import construct_transform
from recbole.utils import get_environment, get_flops, init_logger, init_seed, set_color

from recbole_ilora import results
from recbole_ilora.compat import load_trusted_checkpoint
from recbole_ilora.config import Config
from recbole_ilora.data import candidates_fingerprint, data_preparation
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.registry import get_model, get_trainer


def configure_cpu_threads(threads):
    """Apply ``cpu_threads`` (torch intra-op threads); ``None`` means every CPU this process may use."""
    if threads is None:
        threads = len(os.sched_getaffinity(0))
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigurationError(f"cpu_threads must be a positive integer, got {threads!r}.")
    torch.set_num_threads(threads)


def _fresh_logger(config):
    """RecBole's ``init_logger`` uses ``logging.basicConfig``, a no-op once handlers exist: drop the previous
    run's handlers so that each run in one process logs to its own file."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    init_logger(config)
    return next((h.baseFilename for h in root.handlers if isinstance(h, logging.FileHandler)), None)


def ensure_required_runs(config):
    """Runs a model needs before its own (iLoRA: the SASRec whose checkpoint becomes its frozen encoder).

    A model class lists them in ``required_runs(config)`` as ``{config key: (model, config_dict)}``. A finished
    run with the same config hash is reused; a missing one is run now, as a stage of this command, with its own
    log and JSON result. Each run's checkpoint path is stored under its key. Returns ``{key: (path, how)}``.
    """
    done = {}
    for key, (model, config_dict) in getattr(get_model(config["model"]), "required_runs", lambda _: {})(config).items():
        required = Config(model, config["dataset"], config_dict=config_dict)
        checkpoint = results.finished_checkpoint(results.result_path(required))
        how = "reused finished run"
        if checkpoint is None:
            print(set_color(f"Stage: training {model} for {config['model']}'s {key}", "yellow"), flush=True)
            checkpoint = run(model, config["dataset"], config_dict=config_dict)["checkpoint"]
            how = f"trained {model} first"
        config[key] = checkpoint
        done[key] = (checkpoint, how)
    return done


def run(model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=(), saved=True):
    """Train ``model`` on ``dataset``, evaluate on the test split, write the JSON result, return it.

    Arguments are those of ``Config``. Returns the result dict (also written to ``result["result_file"]``).
    """
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    config = Config(model, dataset, config_file_list, config_dict, cmd_args)
    configure_cpu_threads(config["cpu_threads"])
    getattr(get_model(config["model"]), "validate_config", lambda _: None)(config)
    stage = time.perf_counter()
    prerequisites = ensure_required_runs(config)
    prerequisite_seconds = time.perf_counter() - stage
    init_seed(config["seed"], config["reproducibility"])
    log_file = _fresh_logger(config)
    logger = getLogger()
    logger.info(results.command_line())
    for key, (path, how) in prerequisites.items():
        logger.info(set_color(f"{key} ({how})", "yellow") + f": {path}")
    logger.info(config)

    stage = time.perf_counter()
    dataset = create_dataset(config)
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    data_seconds = time.perf_counter() - stage

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    logger.info(model)
    if not getattr(model, "skip_flops", False):  # get_flops deep-copies the model: skipped for LLM models
        flops = get_flops(model, dataset, config["device"], logger, construct_transform(config))
        logger.info(set_color("FLOPs", "blue") + f": {flops}")

    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    if config["resume_checkpoint"]:
        trainer.resume_checkpoint(config["resume_checkpoint"])

    stage = time.perf_counter()
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=config["show_progress"]
    )
    train_seconds = time.perf_counter() - stage

    stage = time.perf_counter()
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])
    test_seconds = time.perf_counter() - stage

    logger.info("The running environment of this training is as follows:\n" + get_environment(config).draw())
    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")

    result = {
        "schema_version": results.SCHEMA_VERSION,
        "model": config["model"],
        "dataset": config["dataset"],
        "protocol": config["protocol"],
        "seed": config["seed"],
        "config_hash": results.config_hash(config),
        "valid_metric": config["valid_metric"].lower(),
        "best_valid_score": float(best_valid_score) if best_valid_result is not None else None,
        "valid": results.to_floats(best_valid_result),
        "test": results.to_floats(test_result),
        "epochs_trained": len(trainer.train_epoch_seconds),
        "time_s": {
            "total": round(time.perf_counter() - start, 3),
            "prerequisites": round(prerequisite_seconds, 3),
            "data": round(data_seconds, 3),
            "train": round(train_seconds, 3),
            "test": round(test_seconds, 3),
            "train_per_epoch": [round(s, 3) for s in trainer.train_epoch_seconds],
            "valid_per_epoch": [round(s, 3) for s in trainer.valid_epoch_seconds],
        },
        "peak_memory_mb": results.peak_memory_mb(),
        "parameters": results.parameter_counts(model),
        "candidates_sha256": {
            "valid": candidates_fingerprint(valid_data),
            "test": candidates_fingerprint(test_data),
        },
        "per_user_test": {
            "user": results.evaluated_user_tokens(test_data),
            "rank": trainer.last_eval_ranks(),
            "max_rank": max(config["topk"]),
        },
        "versions": results.package_versions(),
        "machine": results.machine_description(),
        "started_at": started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": results.command_line(),
        "log_file": log_file,
        "checkpoint": trainer.saved_model_file if saved else None,
        "config": results.experiment_config(config),
        **getattr(trainer, "result_extras", dict)(),
        **getattr(model, "result_extras", lambda _: {})(test_data._dataset),
    }
    path = results.result_path(config)
    result["result_file"] = str(path)
    results.write_json_atomic(result, path)
    logger.info(set_color("result file", "yellow") + f": {path}")
    return result


def load_data_and_model(model_file):
    """RecBole's ``load_data_and_model`` for this package: rebuild config, data and model from a checkpoint.

    Returns ``(config, model, dataset, train_data, valid_data, test_data)`` like RecBole's.
    """
    checkpoint = load_trusted_checkpoint(model_file, "cpu")
    config = checkpoint["config"]
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model, dataset, train_data, valid_data, test_data
