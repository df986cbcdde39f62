"""Cross-domain evaluation: with ``transfer_from: {dataset: NAME, ...}`` a run trains nothing and evaluates, on its
own dataset's test users, the weights that the same model's run on dataset NAME trained.

That source run is this run's own settings as given (its data_path too: NAME is looked for where this run's data
is looked for) on NAME, plus the other keys of ``transfer_from`` (which may set another data_path): in a study it is the
in-domain arm of NAME, found by its hash or trained first (``recbole_ilora.prerequisites``), like iLoRA's encoder.
Only trained weights travel; prompts, titles and candidates are the target's, and so are a hybrid model's item
embeddings (its own SASRec). A text-only model (TALLRec) thus reads the target's titles through an adapter trained
on the source's; a hybrid model's projector and gate were trained on another SASRec's embedding space, which
nothing aligns with the target's.
"""

from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.llm_recommender import RequiredRun
from recbole_ilora.paths import check_plain_name

TRANSFER_KEY = "transfer_checkpoint"

# Keys of this run's settings that are its own, not the source run's: what it is and the checkpoints it was given.
NOT_CARRIED = {"model", "dataset", "transfer_from", TRANSFER_KEY, "sasrec_checkpoint", "resume_checkpoint"}


def transfer_source(config):
    """The ``RequiredRun`` whose trained weights a run with ``transfer_from`` evaluates; None without it."""
    keys = config["transfer_from"]
    if keys is None:
        if config[TRANSFER_KEY]:  # it would be ignored: the run trains its own weights
            raise ConfigurationError(f"{TRANSFER_KEY} holds the weights of a transfer_from run, and transfer_from is "
                                     f"not set: set transfer_from (e.g. {{dataset: ml-100k}}), or leave "
                                     f"{TRANSFER_KEY} out.")
        return None
    if not isinstance(keys, dict) or not isinstance(keys.get("dataset"), str):
        raise ConfigurationError(f"transfer_from must be a mapping naming the dataset the weights were trained on, "
                                 f"e.g. {{dataset: ml-100k}}, got {keys!r}.")
    check_plain_name("transfer_from's dataset", keys["dataset"])
    own = sorted(set(keys) & NOT_CARRIED - {"dataset"})
    if own:
        raise ConfigurationError(f"transfer_from may not set {', '.join(own)}: the source run is the same model "
                                 f"trained by this package; give its keys (e.g. seed, lora_r) or leave it at this "
                                 f"run's.")
    settings = {key: value for key, value in config.given_settings().items() if key not in NOT_CARRIED}
    source = {**settings, **{key: value for key, value in keys.items() if key != "dataset"}}
    return RequiredRun(config["model"], source, "transfer_from", keys["dataset"])
