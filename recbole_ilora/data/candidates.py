"""Evaluation candidates that every model sees identically: a pure function of (seed, phase, user, positive).

RecBole's sampled evaluation (``mode: uniN``) redraws negatives from the global NumPy RNG on every pass,
with replacement and excluding only the positive. Two models therefore see the same candidates only if nothing
else consumed that RNG before evaluation, validation scores move because the candidates move, and a candidate
list may repeat an item or contain one the user has already seen. This sampler instead draws, for each
evaluation row, ``num`` distinct items the user never interacted with, from an RNG seeded by
(seed, phase, user id, positive item id). It plugs into RecBole's ``NegSampleEvalDataLoader`` unchanged, so
the rows keep RecBole's layout: per user, the positive first, then its negatives.
"""

import hashlib

import numpy as np
import torch

from recbole_ilora import random_streams

PHASES = tuple(random_streams.CANDIDATES)


def candidates_per_user(config, phase):
    """Candidates each ``phase`` (valid / test) user ranks under a sampled protocol (positive + negatives), else 0."""
    sampled = config[f"{phase}_neg_sample_args"] or {}
    if sampled.get("distribution") != "uniform" or not isinstance(sampled.get("sample_num"), int):
        return 0
    return sampled["sample_num"] + 1


def sample_distinct(rng, item_num, excluded, num):
    """``num`` distinct item ids drawn uniformly from ``1 .. item_num - 1`` minus ``excluded`` (a set, extended in
    place). The caller checks that enough items remain."""
    chosen = []
    while len(chosen) < num:
        for item in rng.integers(1, item_num, size=2 * num).tolist():
            if item not in excluded:
                excluded.add(item)
                chosen.append(item)
                if len(chosen) == num:
                    break
    return np.array(chosen, dtype=np.int64)


def _user_item_pairs(dataset):
    """Every (user, item) pair a user's negatives must avoid: each row's target and the items of its history.

    The history matters even with leave-one-out: RecBole's augmentation never makes a user's first item a target,
    so targets alone let it be drawn as a negative (9 of 943 ml-100k test users); in a pre-split dataset
    (``benchmark_filename``, protocol llara: one pseudo user per sample) the history is all there is. The history
    field is found by its name in the data, not by the dataset's class: a general model's (Pop's) dataset holds the
    same histories without the attribute RecBole gives sequential datasets, and must exclude them alike."""
    inter = dataset.inter_feat
    users = inter[dataset.uid_field].numpy()
    items = inter[dataset.iid_field].numpy()
    list_field = dataset.iid_field + dataset.config["LIST_SUFFIX"]
    if list_field in inter:
        histories = inter[list_field].numpy()
        rows, columns = np.nonzero(histories)  # 0 pads the histories
        pairs = np.unique(np.concatenate([users, users[rows]]) * np.int64(dataset.item_num)
                          + np.concatenate([items, histories[rows, columns]]))
        users, items = pairs // dataset.item_num, pairs % dataset.item_num
    return users, items


class FixedCandidateSampler:
    """Drop-in for RecBole's evaluation sampler (``sample_by_user_ids``) with deterministic candidates.

    Args:
        dataset: the whole filtered dataset (all phases), so that no item the user ever interacted with, in
            any phase, becomes a negative (neither a target nor a history item).
        phase: ``valid`` or ``test``; the two phases draw independent candidates.
        seed: the run's seed; models sharing a seed share candidates.
    """

    def __init__(self, dataset, phase, seed):
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        self.phase = phase
        self.seed = int(seed)
        self.item_num = dataset.item_num
        users, items = _user_item_pairs(dataset)
        order = np.argsort(users, kind="stable")
        self._items_by_user = items[order]
        self._user_offsets = np.searchsorted(users[order], np.arange(dataset.user_num + 1))

    def interacted(self, user):
        """Item ids the user interacted with anywhere in the dataset."""
        return self._items_by_user[self._user_offsets[user]:self._user_offsets[user + 1]]

    def negatives(self, user, positive, num):
        """``num`` distinct item ids, uniform over the items this user never interacted with."""
        excluded = set(self.interacted(user).tolist()) | {int(positive), 0}  # 0 is RecBole's padding id
        available = self.item_num - len(excluded)
        if available < num:
            raise ValueError(
                f"User id {user} has interacted with all but {available} of {self.item_num - 1} items, fewer "
                f"than the {num} negatives the protocol needs; filter such users (user_inter_num_interval) or "
                f"use a protocol with fewer candidates."
            )
        rng = random_streams.generator(self.seed, random_streams.CANDIDATES[self.phase], user, positive)
        return sample_distinct(rng, self.item_num, excluded, num)

    def sample_by_user_ids(self, user_ids, item_ids, num):
        """RecBole's layout: entry ``j * len(user_ids) + i`` is the j-th negative of row i."""
        rows = [self.negatives(user, item, num) for user, item in zip(user_ids, item_ids)]
        return torch.from_numpy(np.stack(rows).T.reshape(-1))

    def fingerprint(self, eval_dataset, num):
        """SHA-256 over every row's user, positive and negatives as raw tokens: equal across runs that
        evaluated on the same candidates, whatever internal ids their datasets assigned."""
        users = eval_dataset.inter_feat[eval_dataset.uid_field].numpy()
        items = eval_dataset.inter_feat[eval_dataset.iid_field].numpy()
        digest = hashlib.sha256()
        for user, item in zip(users, items):
            candidates = np.concatenate([[item], self.negatives(user, item, num)])
            tokens = [eval_dataset.id2token(eval_dataset.uid_field, user)]
            tokens += eval_dataset.id2token(eval_dataset.iid_field, candidates).tolist()
            digest.update(("\t".join(tokens) + "\n").encode())
        return digest.hexdigest()
