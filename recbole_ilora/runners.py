"""How a run treats each kind of model. ``quick_start.run`` drives the same stages for every model and asks the
runner, never the model's kind, what each stage does:

    ``RecBoleRunner``  RecBole's own models, the RecBole way: no checks of their own, no prerequisites, moved to the
                       device, FLOPs logged, a recorded RecBole trainer; refused under torchrun (RecBole has its DDP).
    ``LLMRunner``      ``LLMRecommender`` models: their ``checks`` before any work, their ``required_runs`` found or
                       trained first (rank 0 first under torchrun), self-placed (a quantized backbone cannot be
                       moved), ``LLMTrainer``, and the model's own entries in the JSON result.
"""

import pickle
from pathlib import Path

import numpy as np
import torch
from recbole.data.transform import construct_transform
from recbole.utils import get_flops, set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import distributed
from recbole_ilora.config_schema import hyper_parameters
from recbole_ilora.errors import CheckpointError, ConfigurationError, OutOfMemoryError
from recbole_ilora.model.llm_recommender import LLMRecommender
from recbole_ilora.model.parts.transfer import TRANSFER_KEY
from recbole_ilora.paths import PROPERTIES_DIR
from recbole_ilora.prerequisites import ensure_required_runs
from recbole_ilora.registry import get_model
from recbole_ilora.run_info import physical_memory
from recbole_ilora.trainer import LLMTrainer, recorded_trainer, restore_evaluated


class Runner:
    """The stages of one run for one kind of model (see the module docstring)."""

    def __init__(self, config, model_class):
        self.config = config
        self.model_class = model_class

    def start_processes(self):
        """Join the processes of a multi-process launch, or refuse one this kind of model cannot use."""

    def check_config(self):
        """Checks of the model's keys before any data is read."""

    def check_dataset(self, dataset):
        """Checks of the loaded data before any prerequisite run or training."""

    def ensure_prerequisites(self, run):
        """Find or train (with ``run``, ``quick_start.run``) the runs this one needs; ``{key: (path, how)}``."""
        return {}

    def trains(self):
        """Whether the run trains (else it evaluates weights trained by another run, put in by ``build_model``)."""
        return True

    def build_model(self, dataset):
        """The model on its device, built on the training split's dataset."""
        raise NotImplementedError

    def describe(self, model, dataset, logger):
        """Log the model (and what it costs)."""
        logger.info(model)

    @staticmethod
    def trainer_for(model_type, model_name):
        """The trainer class of a model of this kind (RecBole's ``get_trainer`` arguments)."""
        raise NotImplementedError

    def trainer_class(self):
        return self.trainer_for(self.config["MODEL_TYPE"], self.config["model"])

    def result_extras(self, model, test_data):
        """The model's own entries of the JSON result."""
        return {}


# Keys of RecBole models whose file RecBole's model code loads with torch.load (NeuMF, NAIS, ConvNCF, RaCT, S3Rec,
# KD_DAGFM): checked before any work to hold plain tensors only.
RECBOLE_WEIGHT_FILE_KEYS = ("pre_model_path", "pretrain_path", "mf_pretrain_path", "mlp_pretrain_path", "warm_up")


def check_plain_weights_file(key, path):
    """``path`` (the value of ``key``) loads as plain tensors; a file that would need unpickling, or none at all,
    is refused naming the key."""
    if not Path(path).is_file():
        raise CheckpointError(f"{key}={path} does not exist; give the file of pretrained weights, or unset {key}.")
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise CheckpointError(f"{key}={path} cannot be loaded without unpickling, which could run code "
                              f"({str(error).splitlines()[0][:120]}); save the weights as a plain state_dict.") from None


def check_plain_array_file(what, path):
    """``path`` loads as a plain NumPy array: LDiffRec loads it with ``allow_pickle=True``, which would unpickle an
    object array (and run code); anything else is refused naming the file."""
    try:
        np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CheckpointError(f"{what}: {path} does not exist; write the item embeddings there as a .npy array, or "
                              f"set n_cate=1.") from None
    except (ValueError, OSError, EOFError) as error:
        raise CheckpointError(f"{what}: {path} is not a plain .npy array (loading it would need unpickling, which could "
                              f"run code: {str(error).splitlines()[0][:120]}); save it with numpy.save of a numeric "
                              f"array.") from None


class RecBoleRunner(Runner):
    """RecBole's own models."""

    def check_config(self):
        for key in RECBOLE_WEIGHT_FILE_KEYS:
            if self.config[key]:
                check_plain_weights_file(key, self.config[key])
        if (self.config["nproc"] or 1) > 1 and self.config["device"].type != "cuda":
            raise ConfigurationError(f"nproc={self.config['nproc']} starts RecBole's own multi-process training, "
                                     f"which needs CUDA GPUs (NCCL); on a CPU run one process.")

    def check_dataset(self, dataset):
        if self.config["model"] == "LDiffRec" and (self.config["n_cate"] or 1) > 1:
            check_plain_array_file("LDiffRec with n_cate > 1 reads item_emb.npy",
                                   Path(dataset.dataset_path) / "item_emb.npy")

    def start_processes(self):
        # a prerequisite run of an LLM model's torchrun job runs on rank 0 alone, inside the job's process group
        if distributed.launched_by_torchrun() and not distributed.active():
            raise ConfigurationError(
                f"{self.config['model']} is a RecBole model: run it with RecBole's own DDP (--nproc=N, NCCL), not "
                f"torchrun; torchrun serves the LLM models (iLoRA, LoRARec, TALLRec).")

    def build_model(self, dataset):
        self._check_model_fits(dataset)
        try:
            model = self.model_class(self.config, dataset)
        except (ValueError, AssertionError) as error:  # e.g. n_heads not dividing hidden_size, dropout above 1
            raise ConfigurationError(f"{self.config['model']} cannot be built from its keys: "
                                     f"{str(error).splitlines()[0] if str(error) else type(error).__name__} "
                                     f"(its hyper-parameters: {self._hyper_parameters()}).") from None
        return model.to(self.config["device"])

    def _hyper_parameters(self):
        keys = hyper_parameters(self.config["model"], PROPERTIES_DIR)
        return ", ".join(f"{key}={self.config[key]!r}" for key in keys)

    def _check_model_fits(self, dataset):
        """Refuse a model whose weights, gradients and two optimizer moments alone exceed the machine's memory
        (counted on a copy built on the meta device, which allocates nothing); a model that cannot be built there
        is built for real as before."""
        try:
            with torch.device("meta"):
                parameters = list(self.model_class(self.config, dataset).parameters())
        except Exception:  # noqa: BLE001 - a model that needs real tensors to build; its own build reports errors
            return
        count, needed = sum(p.numel() for p in parameters), 4 * sum(p.numel() * p.element_size() for p in parameters)
        memory = physical_memory()
        if memory and needed > memory:
            raise OutOfMemoryError(f"{self.config['model']} with these keys has {count:,} parameters: its weights, "
                                   f"gradients and optimizer state need about {needed / 2**30:,.1f} GiB, more than "
                                   f"this machine's {memory / 2**30:.1f} GiB; lower the sizes among its "
                                   f"hyper-parameters ({self._hyper_parameters()}).")

    def describe(self, model, dataset, logger):
        super().describe(model, dataset, logger)
        flops = get_flops(model, dataset, self.config["device"], logger, construct_transform(self.config))
        logger.info(set_color("FLOPs", "blue") + f": {flops}")

    trainer_for = staticmethod(recorded_trainer)


class LLMRunner(Runner):
    """``LLMRecommender`` models."""

    def start_processes(self):
        distributed.init(self.config)  # a no-op without torchrun, and for prerequisite runs inside a torchrun job

    def check_config(self):
        self.model_class.checks.check_config(self.config)

    def check_dataset(self, dataset):
        self.model_class.checks.check_dataset(self.config, dataset)

    def ensure_prerequisites(self, run):
        required = self.model_class.required_runs(self.config)
        if distributed.active():  # rank 0 runs them while the others wait: with every CPU's threads
            required = {key: needed._replace(config_dict={**needed.config_dict, "cpu_threads": None})
                        for key, needed in required.items()}
        return distributed.main_first(lambda: ensure_required_runs(self.config, required, run))

    def trains(self):
        return self.model_class.trains(self.config)

    def build_model(self, dataset):
        model = self.model_class(self.config, dataset)  # places itself
        if not self.trains():
            self._load_source_weights(model)
        return model

    def _load_source_weights(self, model):
        """The trained weights of the run this one evaluates (``transfer_checkpoint``, set by its prerequisite)."""
        path = self.config[TRANSFER_KEY]
        checkpoint = checkpoints.load(path)
        try:
            restore_evaluated(model, checkpoint)
        except (ValueError, RuntimeError) as error:  # other trainable weights, or of other shapes
            raise CheckpointError(f"{TRANSFER_KEY} {path} (the run of transfer_from "
                                  f"{self.config['transfer_from']}) does not fit this {self.config['model']}: "
                                  f"{str(error).splitlines()[0][:200]}; give transfer_from the size keys this run "
                                  f"has (e.g. lora_r, num_experts, lora_target_modules).") from None

    @staticmethod
    def trainer_for(model_type, model_name):
        return LLMTrainer

    def result_extras(self, model, test_data):
        """The backbone's path as given (a runtime key: the identity holds its files' content), and the model's own
        entries."""
        return {"llm_path": self.config["llm_path"], **model.result_extras(test_data._dataset)}


def _runner_class(model_class):
    return LLMRunner if issubclass(model_class, LLMRecommender) else RecBoleRunner


def runner_for(config):
    """The runner of ``config``'s model."""
    model_class = get_model(config["model"])
    return _runner_class(model_class)(config, model_class)


def get_trainer(model_type, model_name):
    """RecBole's ``get_trainer`` for this package: the trainer class that runs ``model_name`` (``model_type`` is
    RecBole's ``config["MODEL_TYPE"]``): ``LLMTrainer`` for the LLM models, else RecBole's choice, recorded."""
    return _runner_class(get_model(model_name)).trainer_for(model_type, model_name)
