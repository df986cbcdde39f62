"""RunRecordingMixin on RecBole's own trainer: epochs timed, the best checkpoint's validation, per-user ranks."""

import pytest
from conftest import TINY_RUN, write_atomic_dataset
from recbole.utils import init_seed

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.runners import runner_for


def recorded_sasrec(tmp_path, **overrides):
    config = Config("SASRec", "tiny", config_dict={
        **TINY_RUN, "data_path": str(write_atomic_dataset(tmp_path / "data")), "checkpoint_dir": str(tmp_path),
        **overrides})
    init_seed(config["seed"], config["reproducibility"])
    train_data, valid_data, test_data = data_preparation(config, load_dataset(config))
    runner = runner_for(config)
    trainer = runner.trainer_class()(config, runner.build_model(train_data._dataset))
    return trainer, train_data, valid_data, test_data


def test_the_best_checkpoint_holds_the_validation_that_made_it_best(tmp_path):
    """RecBole's fit saves the checkpoint before it assigns best_valid_result: the checkpoint must not hold the
    previous best."""
    trainer, train_data, valid_data, _ = recorded_sasrec(tmp_path, epochs=4, eval_step=1, stopping_step=10,
                                                         learning_rate=0.01)
    validations = []
    valid_epoch = trainer._valid_epoch

    def recorded(*args, **kwargs):
        validations.append(valid_epoch(*args, **kwargs))
        return validations[-1]

    trainer._valid_epoch = recorded
    best_score, best_result = trainer.fit(train_data, valid_data, saved=True)
    saved = checkpoints.load(trainer.saved_model_file)
    assert saved["best_valid_score"] == pytest.approx(best_score)
    assert saved["best_valid_result"] == pytest.approx(dict(best_result))
    assert [score for score, _ in validations].count(best_score) >= 1
    assert len(validations) == 4 and len(trainer.valid_epoch_seconds) == 4


def test_each_epoch_is_timed_and_each_test_user_ranked(tmp_path):
    trainer, train_data, valid_data, test_data = recorded_sasrec(tmp_path, epochs=2)
    trainer.fit(train_data, valid_data, saved=True)
    result = trainer.evaluate(test_data)
    record = trainer.training_record()
    assert len(record.train_epoch_seconds) == 2 and record.world_size == 1 and record.extras == {}
    ranks = record.test_ranks
    assert len(ranks) == len(set(test_data._dataset.inter_feat["user_id"].tolist()))
    assert sum(rank == 1 for rank in ranks) / len(ranks) == pytest.approx(float(result["hit@1"]), abs=1e-4)
