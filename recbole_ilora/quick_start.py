"""One training + evaluation run, shaped like ``recbole.quick_start.run_recbole``.

Differences from RecBole's: this package's final Config, registry and fixed candidates; every check of config and
data before any work (an LLM model's prerequisite runs cost tens of minutes); prerequisite runs; a configured CPU
thread count; the run's log open from its first check; checkpoints through ``recbole_ilora.checkpoint``; a JSON
result file per run (``results``). What differs between kinds of model is the runner's (``runners``). It does not
import ``recbole.quick_start`` (which drags in ray and its tune loggers).
"""

import os
import shlex
from logging import getLogger
from pathlib import Path

import torch
from recbole.utils import get_environment, init_seed, set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import distributed, run_info
from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.errors import (ConfigurationError, OutOfMemoryError, OutputFolderError, ResultWriteError,
                                  RunInterrupted, interrupts_ignored)
from recbole_ilora.experiment import result_path
from recbole_ilora.files import check_writable
from recbole_ilora.results import build_result, result_path_problem, write_result
from recbole_ilora.run_log import early_records, run_log
from recbole_ilora.runners import runner_for
from recbole_ilora.trainer import restore_evaluated


def configure_cpu_threads(threads):
    """Apply ``cpu_threads`` (torch intra-op threads); ``None`` means every CPU this process may use."""
    if threads is None:
        threads = len(os.sched_getaffinity(0))
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigurationError(f"cpu_threads must be a positive integer, got {threads!r}.")
    torch.set_num_threads(threads)


def check_outputs(config):
    """Every folder a run writes to is writable (before its log file is opened in one of them), down to the folder
    of its JSON result (a file at results_dir/DATASET was found only after training), and its JSON result's path is
    free for it."""
    if distributed.is_main():
        for what, folder in (("results_dir", config["results_dir"]), ("checkpoint_dir", config["checkpoint_dir"]),
                             ("llm_cache_dir", config["llm_cache_dir"]), ("the log folder", "log"),
                             ("the tensorboard folder", "log_tensorboard"),
                             ("the result's folder", result_path(config).parent)):
            check_writable(folder, what)
        problem = result_path_problem(result_path(config), config.experiment_hash)
        if problem:
            raise OutputFolderError(f"{problem}: nothing there is overwritten; move it away, or set results_dir to "
                                    f"another folder.")


def check_inputs(config, runner):
    """Every check of a run's inputs before its first long stage: the model's keys, the checkpoint to resume, the
    data files and the loaded dataset. Returns the dataset."""
    runner.check_config()
    if config["resume_checkpoint"]:  # a wrong file is refused now, not after the prerequisite stage
        checkpoints.check_same_experiment(checkpoints.load(config["resume_checkpoint"]), config,
                                          config["resume_checkpoint"], "resumed")
    dataset = load_dataset(config)
    runner.check_dataset(dataset)
    return dataset


def check_before_launch(config):
    """The checks of ``run`` that need no training, for ``run_recbole`` before it starts data-parallel processes:
    a problem is then one message from one process, not one per process inside torchrun's report."""
    with early_records():  # the processes report the warnings, in their log
        check_outputs(config)
        check_inputs(config, runner_for(config))


def raise_if_out_of_memory(error, config, where=""):
    """An ``OutOfMemoryError`` naming the keys that size a run, if ``error`` is torch's report of memory running out
    (``torch.OutOfMemoryError`` on a GPU, the CPU allocator's ``RuntimeError``)."""
    if isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in str(error):
        raise OutOfMemoryError(
            f"{config['model']} ran out of memory ({str(error).splitlines()[0][:160]}): lower train_batch_size, "
            f"eval_batch_size, MAX_ITEM_LIST_LENGTH or the model's size keys{where}.") from None


def run(model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=(), saved=True):
    """Train ``model`` on ``dataset``, evaluate on the test split, write the JSON result, return it.

    Arguments are those of ``Config``. Returns the result dict (also written to ``result["result_file"]``).
    """
    clock = run_info.StageClock()
    with early_records() as earlier:
        config = Config(model, dataset, config_file_list, config_dict, cmd_args)
    configure_cpu_threads(config["cpu_threads"])
    runner = runner_for(config)
    runner.start_processes()
    check_outputs(config)
    with run_log(config, earlier) as log_file:
        logger = getLogger()
        logger.info(run_info.command_line())
        with clock.stage("data"):
            dataset = check_inputs(config, runner)
        with clock.stage("prerequisites"):  # under torchrun: rank 0 trains them, the other ranks then find them
            try:
                prerequisites = runner.ensure_prerequisites(run)
            except KeyboardInterrupt as stopped:  # the required run's own command is not what the user typed
                raise RunInterrupted(prerequisite_hint(
                    stopped.checkpoint if isinstance(stopped, RunInterrupted) else None)) from None
        configure_cpu_threads(config["cpu_threads"])  # a prerequisite run may have set its own

        init_seed(config["seed"], config["reproducibility"])
        for key, (path, how) in prerequisites.items():
            logger.info(set_color(f"{key} ({how})", "yellow") + f": {path}")
        logger.info(config)
        logger.info(dataset)
        with clock.stage("data"):
            try:
                train_data, valid_data, test_data = data_preparation(config, dataset)
            except RuntimeError as error:  # RecBole's sequences: samples x MAX_ITEM_LIST_LENGTH ids
                raise_if_out_of_memory(error, config)
                raise

        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model = runner.build_model(train_data._dataset)
        runner.describe(model, dataset, logger)

        trainer = runner.trainer_class()(config, model)
        trains = runner.trains()
        try:
            best_valid_score, best_valid_result = None, None
            if trains:
                if config["resume_checkpoint"]:
                    trainer.resume_checkpoint(config["resume_checkpoint"])
                best_valid_score, best_valid_result = trainer.fit(
                    train_data, valid_data, saved=saved, show_progress=config["show_progress"]
                )
            clock.add("train", trainer.fit_seconds())
            with clock.stage("test"):  # a run that trains nothing evaluates the weights its model was built with
                test_result = trainer.evaluate(test_data, load_best_model=saved and trains,
                                               show_progress=config["show_progress"])
            logger.info("The running environment of this training is as follows:\n"
                        + get_environment(config).draw())
            logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
            logger.info(set_color("test result", "yellow") + f": {test_result}")
            result = build_result(
                config, clock, trainer.training_record(), model, valid_data, test_data, best_valid_score,
                best_valid_result, test_result, log_file=log_file,
                checkpoint=trainer.saved_model_file if saved and trains else None,
                extras=runner.result_extras(model, test_data),
            )
            if distributed.is_main():
                try:
                    write_result(result)
                except ResultWriteError as error:
                    raise ResultWriteError(
                        f"{error}. The trained model is safe in {trainer.saved_model_file}: fix that, then rerun this "
                        f"command with --resume_checkpoint={trainer.saved_model_file} (training is done: it only "
                        f"evaluates and writes the result).") from None
                logger.info(set_color("result file", "yellow") + f": {result['result_file']}")
        except RunInterrupted:
            raise
        except KeyboardInterrupt:  # while training, evaluating or writing the result: the checkpoint resumes it
            with interrupts_ignored():  # a second Ctrl-C would cut this line short
                raise RunInterrupted(resume_hint(trainer.saved_model_file), trainer.saved_model_file) from None
        except RuntimeError as error:
            raise_if_out_of_memory(error, config, f"; the last checkpoint: {trainer.saved_model_file}")
            raise
    return result


def _command():
    """This run's command line, without its ``--resume_checkpoint``, as words a shell gives back."""
    program, *arguments = run_info.command_line()
    head = ["python", "-m", "recbole_ilora"] if program == "__main__.py" else [program]
    return [*head, *(arg for arg in arguments if not arg.startswith("--resume_checkpoint="))]


def resume_hint(checkpoint_file):
    """What to do after an interrupt: the command again (shell-quoted), resuming from the last checkpoint if one was
    written."""
    if Path(checkpoint_file).is_file():
        return (f"the last checkpoint is {checkpoint_file}; continue with: "
                f"{shlex.join([*_command(), f'--resume_checkpoint={checkpoint_file}'])}")
    return f"no checkpoint was written yet; run again with: {shlex.join(_command())}"


def prerequisite_hint(checkpoint_file):
    """What to do after an interrupt in a run this one needs first (iLoRA's SASRec encoder stage): this command
    again, which resumes that run from its last checkpoint (``prerequisites``)."""
    saved = f"its last checkpoint is {checkpoint_file}" if checkpoint_file and Path(checkpoint_file).is_file() \
        else "no checkpoint of it was written yet"
    return (f"stopped while training a run this one needs first ({saved}); continue with: {shlex.join(_command())} "
            f"(it resumes that run from its last checkpoint)")


def rebuilt_config(path, checkpoint):
    """The ``Config`` of the run that wrote ``checkpoint``, from its settings; refused if this package's defaults
    have changed since (another hash)."""
    config = Config(checkpoint["model"], checkpoint["dataset"], config_dict=checkpoint["settings"])
    checkpoints.check_same_experiment(checkpoint, config, path, "rebuilt with today's defaults")
    return config


def load_data_and_model(model_file):
    """RecBole's ``load_data_and_model`` for this package, for any model's checkpoint: rebuild config, data and
    model (with the checkpoint's evaluated weights).

    Returns ``(config, model, dataset, train_data, valid_data, test_data)`` like RecBole's.
    """
    checkpoint = checkpoints.load(model_file)
    config = rebuilt_config(model_file, checkpoint)
    init_seed(config["seed"], config["reproducibility"])
    dataset = load_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = runner_for(config).build_model(train_data._dataset)
    restore_evaluated(model, checkpoint)
    return config, model, dataset, train_data, valid_data, test_data
