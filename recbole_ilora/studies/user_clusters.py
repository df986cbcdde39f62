"""Users as points of the frozen SASRec's space, the space iLoRA's gate reads: each test user's sequence
representation (the encoder's output for the history the test prompt shows), and K-means clusters of them (the
iLoRA paper's Figure 1 groups users this way). Shared by the gates and conflict studies.
"""

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans

from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.model.parts.sasrec_encoder import load_frozen_encoder
from recbole_ilora.prerequisites import ensure_required_runs
from recbole_ilora.registry import get_model


@dataclass(frozen=True)
class UserPoints:
    users: list  # external user ids (the JSON results' ids)
    internal: np.ndarray  # the same users' internal ids (the loaders' ids)
    points: np.ndarray  # (users, encoder dim)


def run_config(job):
    """The final Config of a planned run (``leaderboard.runs.Job``), as ``run_recbole`` built it, its results folder
    the one its finished result is in (an arm found among the leaderboard's runs used the leaderboard's encoder)."""
    cmd_args = list(job.cmd_args)
    if job.done():  # RESULTS_DIR/DATASET/PROTOCOL/FILE (experiment.result_path)
        cmd_args = [arg for arg in cmd_args if not arg.startswith("--results_dir=")]
        cmd_args.append(f"--results_dir={job.result_file.parents[2]}")
    return Config(job.model, job.dataset, job.config_files or None, cmd_args=cmd_args)


def encoder_checkpoint(config, run):
    """The SASRec checkpoint an LLM run of ``config`` used: found by its hash, or trained with ``run`` (as the run
    itself would)."""
    required = get_model(config["model"]).required_runs(config)
    return ensure_required_runs(config, required, run)["sasrec_checkpoint"][0]


def points_of_test_users(config, checkpoint):
    """``UserPoints`` of every test user of ``config``'s split: the encoder's output for the history of their
    test sample (the gate's input when that user is scored)."""
    dataset = load_dataset(config)
    _, _, test = data_preparation(config, dataset)
    encoder = load_frozen_encoder(checkpoint, dataset)
    uid, items, lengths = config["USER_ID_FIELD"], config["ITEM_ID_FIELD"] + config["LIST_SUFFIX"], \
        config["ITEM_LIST_LENGTH_FIELD"]
    users, points = [], []
    with torch.no_grad():
        for batch in test:
            interaction = batch[0]
            ids = interaction[uid]
            first = torch.cat([ids.new_ones(1, dtype=torch.bool), ids[1:] != ids[:-1]])  # a user's rows are contiguous
            points.append(encoder(interaction[items][first], interaction[lengths][first]).float().numpy())
            users += ids[first].tolist()
    tokens = dataset.id2token(uid, np.array(users)).tolist()
    return UserPoints([str(token) for token in tokens], np.array(users), np.concatenate(points))


def clusters(points, count, seed):
    """K-means labels (``count`` clusters, 10 restarts, seeded) and the centres of ``points``."""
    model = KMeans(n_clusters=count, n_init=10, random_state=seed).fit(points)
    return model.labels_, model.cluster_centers_
