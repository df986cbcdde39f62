"""The collaborative encoder: a SASRec trained by RecBole on the same dataset, split and seed, then frozen
(``recbole_ilora.prerequisites`` trains or finds its run)."""

import torch
from recbole.model.sequential_recommender import SASRec

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora.errors import ConfigurationError

ENCODER_MODEL = "SASRec"


def load_frozen_encoder(checkpoint_file, dataset):
    """A SASRec with the checkpoint's weights and hyper-parameters, on ``dataset``'s item ids, frozen."""
    checkpoint = checkpoints.load(checkpoint_file)
    if checkpoint["model"] != ENCODER_MODEL:
        raise ConfigurationError(f"sasrec_checkpoint {checkpoint_file} holds a {checkpoint['model']} model, not "
                                 f"{ENCODER_MODEL}.")
    rows = checkpoint["weights"]["item_embedding.weight"].shape[0]
    if rows != dataset.item_num:
        raise ConfigurationError(
            f"sasrec_checkpoint {checkpoint_file} embeds {rows} items but dataset '{dataset.dataset_name}' has "
            f"{dataset.item_num}: it was trained on other data or filtering; leave sasrec_checkpoint empty to train "
            f"a matching one."
        )
    encoder = SASRec({**checkpoint["config"], "device": torch.device("cpu")}, dataset)  # hyper-parameters as trained
    encoder.load_state_dict(checkpoint["weights"])
    encoder.requires_grad_(False)
    return encoder.eval()
