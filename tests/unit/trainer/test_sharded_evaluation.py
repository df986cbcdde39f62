"""Sharded evaluation's pieces: batches dealt round-robin, gathered scores replayed in order."""

import torch

from recbole_ilora.trainer.sharded_evaluation import GatheredScores, my_batches


def test_batches_are_dealt_round_robin():
    loader = [(f"batch{i}", None) for i in range(7)]
    assert [index for index, _ in my_batches(loader, 0, 3)] == [0, 3, 6]
    assert [batch for _, batch in my_batches(loader, 2, 3)] == ["batch2", "batch5"]


def test_gathered_scores_stand_in_for_the_model_in_order():
    stand_in = GatheredScores([torch.ones(2), torch.zeros(3)], torch.device("cpu"))
    assert stand_in.eval() is stand_in
    assert stand_in.predict(None).tolist() == [1, 1] and stand_in.full_sort_predict(None).tolist() == [0, 0, 0]
