"""``train_user_share``: training keeps a seeded share of the users' samples, evaluation every user's."""

import numpy as np
import pytest
from conftest import TINY_RUN

from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.errors import ConfigurationError
from recbole_ilora.model.parts.sasrec_encoder import encoder_run_config


def loaders(root, **keys):
    config = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(root), **keys})
    return config, data_preparation(config, load_dataset(config))


def users(loader):
    return set(np.unique(loader._dataset.inter_feat[loader._dataset.uid_field].numpy()))


def test_a_share_of_the_training_users_is_kept_and_every_user_is_evaluated(tiny_data_root):
    _, (train, valid, test) = loaders(tiny_data_root)
    config, (half_train, half_valid, half_test) = loaders(tiny_data_root, train_user_share=0.5)
    assert len(users(half_train)) == round(0.5 * len(users(train))) and users(half_train) < users(train)
    assert users(half_valid) == users(valid) and users(half_test) == users(test)
    kept = users(half_train)
    assert all(np.sum(half_train._dataset.inter_feat["user_id"].numpy() == user)
               == np.sum(train._dataset.inter_feat["user_id"].numpy() == user) for user in kept)
    assert users(loaders(tiny_data_root, train_user_share=0.5)[1][0]) == kept  # drawn by seed
    assert users(loaders(tiny_data_root, train_user_share=0.5, seed=7)[1][0]) != kept
    assert Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data_root)}).experiment_hash != \
        config.experiment_hash


def test_the_share_reaches_the_encoder_and_is_checked(tiny_data_root):
    llm = Config("iLoRA", "ml-100k", config_dict={"train_user_share": 0.25})
    assert encoder_run_config(llm)["train_user_share"] == 0.25
    assert "train_user_share" not in Config("iLoRA", "ml-100k").experiment  # unset: hashes stay as published
    with pytest.raises(ConfigurationError, match=r"train_user_share must be in \(0, 1\], got 0"):
        Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data_root), "train_user_share": 0})
