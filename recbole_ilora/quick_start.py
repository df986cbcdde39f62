"""One training + evaluation run, shaped like ``recbole.quick_start.run_recbole``.

Differences from RecBole's: this package's Config, registry and fixed candidates; every check of config and data
before any work (an LLM model's prerequisite runs cost tens of minutes); prerequisite runs; a configured CPU thread
count; checkpoints through ``recbole_ilora.checkpoint``; a JSON result file per run (``results.build_result``).
It does not import ``recbole.quick_start`` (which drags in ray and its tune loggers).
"""

import logging
import os
from logging import getLogger

import torch
from recbole.data.transform import construct_transform
from recbole.utils import get_environment, get_flops, init_logger, init_seed, set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import distributed, results
from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.llm_recommender import LLMRecommender
from recbole_ilora.prerequisites import ensure_required_runs
from recbole_ilora.registry import get_model, get_trainer
from recbole_ilora.trainer.recording import restore_weights


def configure_cpu_threads(threads):
    """Apply ``cpu_threads`` (torch intra-op threads); ``None`` means every CPU this process may use."""
    if threads is None:
        threads = len(os.sched_getaffinity(0))
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigurationError(f"cpu_threads must be a positive integer, got {threads!r}.")
    torch.set_num_threads(threads)


def _fresh_logger(config):
    """RecBole's ``init_logger`` uses ``logging.basicConfig``, a no-op once handlers exist: drop the previous
    run's handlers so that each run in one process logs to its own file. Under torchrun, only rank 0 logs (to its
    file and the console); the other ranks print warnings and errors only."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    if not distributed.is_main():
        logging.basicConfig(level=logging.WARNING, format=f"rank {distributed.rank()}: %(levelname)s %(message)s")
        return None
    init_logger(config)
    return next((h.baseFilename for h in root.handlers if isinstance(h, logging.FileHandler)), None)


def start_distributed(config, llm):
    """Join torchrun's process group for an LLM model's run (the top-level one: prerequisite runs inside it are
    single-process runs of rank 0)."""
    if not distributed.launched_by_torchrun() or distributed.active():
        return
    if not llm:
        raise ConfigurationError(
            f"{config['model']} is a RecBole model: run it with RecBole's own DDP (--nproc=N, NCCL), not torchrun; "
            f"torchrun serves the LLM models (iLoRA, LoRARec, TALLRec).")
    distributed.init(config)


def run(model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=(), saved=True):
    """Train ``model`` on ``dataset``, evaluate on the test split, write the JSON result, return it.

    Arguments are those of ``Config``. Returns the result dict (also written to ``result["result_file"]``).
    """
    clock = results.StageClock()
    config = Config(model, dataset, config_file_list, config_dict, cmd_args)
    configure_cpu_threads(config["cpu_threads"])
    model_class = get_model(config["model"])
    llm = issubclass(model_class, LLMRecommender)
    start_distributed(config, llm)
    if llm:
        model_class.validate_config(config)
    with clock.stage("data"):
        dataset = load_dataset(config)
        if llm:
            model_class.validate_dataset(config, dataset)
    with clock.stage("prerequisites"):  # under torchrun: rank 0 trains them, the other ranks then find them
        prerequisites = distributed.main_first(lambda: ensure_required_runs(config, model_class, run)) if llm else {}

    init_seed(config["seed"], config["reproducibility"])
    log_file = _fresh_logger(config)
    logger = getLogger()
    logger.info(results.command_line())
    for key, (path, how) in prerequisites.items():
        logger.info(set_color(f"{key} ({how})", "yellow") + f": {path}")
    logger.info(config)
    logger.info(dataset)
    with clock.stage("data"):
        train_data, valid_data, test_data = data_preparation(config, dataset)

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = model_class(config, train_data._dataset)
    if not llm:  # an LLM model places itself (a quantized backbone cannot be moved after loading)
        model = model.to(config["device"])
    logger.info(model)
    if not llm:  # get_flops deep-copies the model: not for an LLM
        flops = get_flops(model, dataset, config["device"], logger, construct_transform(config))
        logger.info(set_color("FLOPs", "blue") + f": {flops}")

    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    if config["resume_checkpoint"]:
        trainer.resume_checkpoint(config["resume_checkpoint"])
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=config["show_progress"]
    )
    clock.add("train", trainer.fit_seconds())
    with clock.stage("test"):
        test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])

    logger.info("The running environment of this training is as follows:\n" + get_environment(config).draw())
    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")
    result = results.build_result(
        config, clock, trainer, model, valid_data, test_data, best_valid_score, best_valid_result, test_result,
        log_file=log_file, checkpoint=trainer.saved_model_file if saved else None,
        extras={**trainer.result_extras(), **(model.result_extras(test_data._dataset) if llm else {})},
    )
    if distributed.is_main():
        logger.info(set_color("result file", "yellow") + f": {result['result_file']}")
    return result


def load_data_and_model(model_file):
    """RecBole's ``load_data_and_model`` for this package, for any model's checkpoint: rebuild config, data and
    model (with the checkpoint's evaluated weights).

    Returns ``(config, model, dataset, train_data, valid_data, test_data)`` like RecBole's.
    """
    checkpoint = checkpoints.load(model_file)
    config = checkpoints.rebuilt_config(model_file, checkpoint)
    model_class = get_model(config["model"])
    init_seed(config["seed"], config["reproducibility"])
    dataset = load_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = model_class(config, train_data._dataset)
    if not issubclass(model_class, LLMRecommender):
        model = model.to(config["device"])
    restore_weights(model, checkpoint["weights"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
    return config, model, dataset, train_data, valid_data, test_data
