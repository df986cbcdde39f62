"""The collaborative encoder: a SASRec trained by RecBole on the same dataset, split and seed, then frozen
(``recbole_ilora.prerequisites`` trains or finds its run).

The encoder's run copies every data, split and evaluation key of the LLM run (plus ``encoder_config`` overrides),
so it sees exactly the LLM run's items, split and candidates; with no overrides it *is* the SASRec baseline of the
same seed. With overrides (the CPU default caps its epochs) it is another experiment than the baseline, so its JSON
result goes to ``<results_dir>/encoders/``, where a leaderboard reading ``<results_dir>`` does not mistake it for the
baseline.
"""

from pathlib import Path

import torch
from recbole.model.sequential_recommender import SASRec

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora.errors import ConfigurationError

ENCODER_MODEL = "SASRec"
ENCODER_RESULTS_FOLDER = "encoders"

# Keys RecBole's dataset reads the files with that its ``parameters["Dataset"]`` does not list (recbole/data/dataset/
# dataset.py reads them from the config; no property category names them).
UNLISTED_DATASET_KEYS = ("encoding", "numerical_features", "discretization")

# Besides the dataset keys (RecBole's ``parameters["Dataset"]`` and the above), what the encoder run shares with the
# LLM run.
SHARED_KEYS = ("seed", "reproducibility", "protocol", "eval_args", "repeatable", "metrics", "topk", "valid_metric",
               "checkpoint_dir", "results_dir", "cpu_threads", "show_progress", "state", "gpu_id", "use_gpu",
               "train_user_share", "llm_cache_dir")

# Shared keys that only say how the encoder's run is executed or logged: encoder_config may set them.
RUN_ONLY_KEYS = {"cpu_threads", "show_progress", "state", "gpu_id", "use_gpu"}


def encoder_run_config(config):
    """``config_dict`` of the SASRec run that provides the encoder of the LLM run configured by ``config``."""
    keys = list(config.parameters["Dataset"]) + list(UNLISTED_DATASET_KEYS) + list(SHARED_KEYS)
    fixed = sorted(set(config["encoder_config"] or {}) & {*keys, "model", "dataset", "data_path"} - RUN_ONLY_KEYS)
    if fixed:
        raise ConfigurationError(f"encoder_config may not set {', '.join(fixed)}: the encoder is a SASRec on the run's "
                                 f"own data, split and seed; set those keys on the run itself, or give a finished "
                                 f"checkpoint as sasrec_checkpoint.")
    shared = {key: config[key] for key in keys if key in config}
    shared["data_path"] = str(Path(config["data_path"]).parent)  # the resolved folder's parent resolves back to it
    if config["encoder_config"]:
        shared["results_dir"] = str(Path(config["results_dir"]) / ENCODER_RESULTS_FOLDER)
        shared.update(config["encoder_config"])
    return shared


def check_encoder_shapes(checkpoint, checkpoint_file, dataset):
    """The checkpoint's SASRec fits the run: one embedding per item of ``dataset``, a representation of at least one
    dimension (a 0-dim SASRec trains and ranks at chance), and position embeddings for the run's longest sequences
    (MAX_ITEM_LIST_LENGTH; shorter ones fail with an IndexError in the first batch)."""
    rows, width = checkpoint["weights"]["item_embedding.weight"].shape
    if rows != dataset.item_num:
        raise ConfigurationError(
            f"sasrec_checkpoint {checkpoint_file} embeds {rows} items but dataset '{dataset.dataset_name}' has "
            f"{dataset.item_num}: it was trained on other data or filtering; leave sasrec_checkpoint empty to train "
            f"a matching one."
        )
    if width == 0:
        raise ConfigurationError(f"sasrec_checkpoint {checkpoint_file} is a SASRec with hidden_size 0 (0-dimensional "
                                 f"item embeddings, which carry nothing): train it with hidden_size >= 1, or leave "
                                 f"sasrec_checkpoint empty to train one.")
    positions = checkpoint["weights"]["position_embedding.weight"].shape[0]
    run_length = dataset.config["MAX_ITEM_LIST_LENGTH"]
    if positions < run_length:
        raise ConfigurationError(
            f"sasrec_checkpoint {checkpoint_file} encodes sequences of at most {positions} items (it was trained with "
            f"MAX_ITEM_LIST_LENGTH {positions}), but this run's are up to {run_length} (MAX_ITEM_LIST_LENGTH "
            f"{run_length}): train the encoder with MAX_ITEM_LIST_LENGTH >= {run_length}, or leave sasrec_checkpoint "
            f"empty to train a matching one.")


def load_frozen_encoder(checkpoint_file, dataset):
    """A SASRec with the checkpoint's weights and hyper-parameters, on ``dataset``'s item ids, frozen."""
    checkpoint = checkpoints.load(checkpoint_file)
    if checkpoint["model"] != ENCODER_MODEL:
        raise ConfigurationError(f"sasrec_checkpoint {checkpoint_file} holds a {checkpoint['model']} model, not "
                                 f"{ENCODER_MODEL}.")
    check_encoder_shapes(checkpoint, checkpoint_file, dataset)
    encoder = SASRec({**checkpoint["config"], "device": torch.device("cpu")}, dataset)  # hyper-parameters as trained
    encoder.load_state_dict(checkpoint["weights"])
    encoder.requires_grad_(False)
    return encoder.eval()
