"""RecBole's dataset split and data loaders, with sampled-evaluation candidates fixed per (seed, user)."""

from recbole.data import data_preparation as recbole_data_preparation
from recbole.data.dataloader import NegSampleEvalDataLoader

from recbole_ilora.data.candidates import FixedCandidateSampler


def _samples_uniform_negatives(loader):
    args = getattr(loader, "neg_sample_args", {})
    return isinstance(loader, NegSampleEvalDataLoader) and args.get("distribution") == "uniform" \
        and args.get("sample_num") != "none"


def data_preparation(config, dataset):
    """Split ``dataset`` and build RecBole's train / valid / test loaders.

    The uniform sampled-evaluation loaders (``mode: uniN``) get a ``FixedCandidateSampler``, so every model run
    under the same seed ranks exactly the same candidates (see ``recbole_ilora.data.candidates``).
    """
    train_data, valid_data, test_data = recbole_data_preparation(config, dataset)
    for loader in (valid_data, test_data):
        if _samples_uniform_negatives(loader):
            loader._sampler = FixedCandidateSampler(dataset, loader._sampler.phase, config["seed"])
    return train_data, valid_data, test_data


def candidates_fingerprint(loader):
    """SHA-256 of the loader's evaluation candidates, or None where they are not fixed (full ranking)."""
    if isinstance(getattr(loader, "_sampler", None), FixedCandidateSampler):
        return loader._sampler.fingerprint(loader._dataset, loader.neg_sample_num)
    return None
