"""RecBole's dataset split and data loaders, with sampled-evaluation candidates fixed per (seed, user), and
optionally evaluation restricted to a fixed random subset of users (``eval_users``).

The loaders are built as RecBole's ``data_preparation`` builds them, without its first step: RecBole unpickles
``dataloaders_save_path``, or a file of the default name in ``checkpoint_dir``, whenever one exists, and a pickle
can run code. Saving loaders is refused by the config checks for the same reason.
"""

from logging import getLogger

import numpy as np
import torch
from recbole.data.dataloader import NegSampleEvalDataLoader
from recbole.data.utils import create_samplers, get_dataloader
from recbole.sampler import KGSampler
from recbole.utils import ModelType, set_color

from recbole_ilora import random_streams
from recbole_ilora.data.candidates import FixedCandidateSampler


def _samples_uniform_negatives(loader):
    args = getattr(loader, "neg_sample_args", {})
    return isinstance(loader, NegSampleEvalDataLoader) and args.get("distribution") == "uniform" \
        and args.get("sample_num") != "none"


def evaluated_users(loader, count, seed):
    """``count`` internal user ids of an evaluation loader, drawn without replacement by ``seed`` (sorted): the
    same users for every model and run of that seed."""
    users = np.unique(loader._dataset.inter_feat[loader._dataset.uid_field].numpy())
    if count >= len(users):
        return users
    return np.sort(random_streams.generator(seed, random_streams.EVAL_USERS).choice(users, size=count, replace=False))


def training_users(loader, share, seed):
    """The internal user ids whose training samples ``train_user_share`` keeps: ``round(share x users)`` of the
    users of the training split (at least one), drawn without replacement by ``seed`` (sorted)."""
    users = np.unique(loader._dataset.inter_feat[loader._dataset.uid_field].numpy())
    count = max(1, round(share * len(users)))
    generator = random_streams.generator(seed, random_streams.TRAINING_USERS)
    return np.sort(generator.choice(users, size=count, replace=False))


def restrict_to_users(loader, config, users, shuffle=False):
    """The same loader over the given users' rows only."""
    dataset = loader._dataset
    keep = torch.from_numpy(np.isin(dataset.inter_feat[dataset.uid_field].numpy(), users))
    return type(loader)(config, dataset.copy(dataset.inter_feat[keep]), loader._sampler, shuffle=shuffle)


def split_loaders(config, dataset):
    """RecBole's train / valid / test loaders of ``dataset``, built from the dataset itself (never loaded)."""
    built_datasets = dataset.build()
    train_dataset, valid_dataset, test_dataset = built_datasets
    train_sampler, valid_sampler, test_sampler = create_samplers(config, dataset, built_datasets)
    if config["MODEL_TYPE"] == ModelType.KNOWLEDGE:
        kg_sampler = KGSampler(dataset, config["train_neg_sample_args"]["distribution"],
                               config["train_neg_sample_args"]["alpha"])
        train_data = get_dataloader(config, "train")(config, train_dataset, train_sampler, kg_sampler, shuffle=True)
    else:
        train_data = get_dataloader(config, "train")(config, train_dataset, train_sampler, shuffle=config["shuffle"])
    valid_data = get_dataloader(config, "valid")(config, valid_dataset, valid_sampler, shuffle=False)
    test_data = get_dataloader(config, "test")(config, test_dataset, test_sampler, shuffle=False)
    logger = getLogger()
    logger.info(set_color("[Training]: ", "pink") + f"train_batch_size = [{config['train_batch_size']}] "
                f"train_neg_sample_args: [{config['train_neg_sample_args']}]")
    logger.info(set_color("[Evaluation]: ", "pink") + f"eval_batch_size = [{config['eval_batch_size']}] "
                f"eval_args: [{config['eval_args']}]")
    return train_data, valid_data, test_data


def data_preparation(config, dataset):
    """Split ``dataset`` and build RecBole's train / valid / test loaders.

    The uniform sampled-evaluation loaders (``mode: uniN``) get a ``FixedCandidateSampler``, so every model run
    under the same seed ranks exactly the same candidates (see ``recbole_ilora.data.candidates``). With
    ``eval_users`` set, valid and test evaluate that many users drawn by seed (quick probes of slow models). With
    ``train_user_share`` set, training keeps the samples of that share of the users, drawn by seed (the sparsity
    study): the others are still validated and tested, on histories the model never trained on.
    """
    train_data, valid_data, test_data = split_loaders(config, dataset)
    if config["train_user_share"] is not None and config["train_user_share"] < 1:
        kept = training_users(train_data, config["train_user_share"], config["seed"])
        train_data = restrict_to_users(train_data, config, kept, shuffle=config["shuffle"])
        getLogger().info(f"train_user_share={config['train_user_share']}: training on the samples of {len(kept)} "
                         f"users ({len(train_data._dataset)} samples)")
    for loader in (valid_data, test_data):
        if _samples_uniform_negatives(loader):
            loader._sampler = FixedCandidateSampler(dataset, loader._sampler.phase, config["seed"])
    if config["eval_users"]:
        users = evaluated_users(test_data, config["eval_users"], config["seed"])
        valid_data, test_data = (restrict_to_users(loader, config, users) for loader in (valid_data, test_data))
    return train_data, valid_data, test_data


def candidates_fingerprint(loader):
    """SHA-256 of the loader's evaluation candidates, or None where they are not fixed (full ranking)."""
    if isinstance(getattr(loader, "_sampler", None), FixedCandidateSampler):
        return loader._sampler.fingerprint(loader._dataset, loader.neg_sample_num)
    return None


def evaluated_user_tokens(loader):
    """Raw user ids of an evaluation loader's rows, in the order RecBole's collector stores them."""
    dataset = loader._dataset
    return dataset.id2token(dataset.uid_field, dataset.inter_feat[dataset.uid_field].numpy()).tolist()
