"""The JSON result: assembled from the final config, the trainer's record and the evaluation loaders."""

import json

from conftest import TINY_RUN, write_atomic_dataset
from recbole.model.sequential_recommender import SASRec

from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.experiment import result_path
from recbole_ilora.results import SCHEMA_VERSION, TrainingRecord, build_result, write_result
from recbole_ilora.run_info import StageClock


def test_a_result_names_its_identity_candidates_and_users(tmp_path):
    config = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(write_atomic_dataset(tmp_path)),
                                                   "results_dir": str(tmp_path / "results")})
    train_data, valid_data, test_data = data_preparation(config, load_dataset(config))
    clock = StageClock()
    with clock.stage("test"):
        pass
    users = len(set(test_data._dataset.inter_feat["user_id"].tolist()))
    record = TrainingRecord([1.5], [0.5], [1] * users, extras={"resumed_from": "x.pth"})
    result = build_result(config, clock, record, SASRec(config, train_data._dataset), valid_data, test_data, 0.3,
                          {"ndcg@10": 0.3}, {"hit@1": 1.0}, log_file="log/x.log", checkpoint="saved/x.pth",
                          extras={"gate_weights": None})
    assert result["schema_version"] == SCHEMA_VERSION and result["config_hash"] == config.experiment_hash
    assert result["config"] == config.experiment and result["result_file"] == str(result_path(config))
    assert result["epochs_trained"] == 1 and result["time_s"]["train_per_epoch"] == [1.5]
    assert len(result["per_user_test"]["user"]) == users and result["per_user_test"]["max_rank"] == 10
    assert len(result["candidates_sha256"]["test"]) == 64 and result["resumed_from"] == "x.pth"
    assert "gate_weights" in result and result["parameters"]["trainable"] > 0
    assert json.loads(write_result(result).read_text()) == json.loads(json.dumps(result))
