"""Evaluation of an LLM model by several processes (torchrun): each rank scores its share of the batches (every
``world_size``-th), every rank gathers all scores and the model's per-user records, and RecBole's evaluation loop
then runs over the whole data with ``GatheredScores`` standing in for the model, so that its evaluator sees every
user exactly once, in its own row layout, on every rank."""

import torch
from recbole.data.dataloader import FullSortEvalDataLoader

from recbole_ilora import distributed


def my_batches(eval_data, rank, world_size):
    """``(index, interaction)`` of this rank's share of an evaluation loader's batches."""
    for index, batch in enumerate(eval_data):
        if index % world_size == rank:
            yield index, batch[0]


@torch.no_grad()
def gathered_scores(model, eval_data, rank, world_size, device, on_batch):
    """Every batch's scores in order, each computed by one rank; the model's per-user records merged into it on
    every rank. ``on_batch(interaction)`` is called after each batch this rank scores (progress)."""
    model.eval()
    predict = model.full_sort_predict if isinstance(eval_data, FullSortEvalDataLoader) else model.predict
    mine = {}
    for index, interaction in my_batches(eval_data, rank, world_size):
        mine[index] = predict(interaction.to(device)).cpu()
        on_batch(interaction)
    scores = {index: value for part in distributed.gather(mine) for index, value in part.items()}
    for records in distributed.gather(model.evaluation_records()):
        model.add_evaluation_records(records)
    return [scores[index] for index in range(len(scores))]


class GatheredScores:
    """Stands in for the model in RecBole's evaluation loop: ``predict`` / ``full_sort_predict`` return the gathered
    scores of each batch in turn."""

    def __init__(self, scores, device):
        self._scores = iter(scores)
        self._device = device

    def eval(self):
        return self

    def predict(self, interaction):
        return next(self._scores).to(self._device)

    full_sort_predict = predict
