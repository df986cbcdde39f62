"""Every committed JSON result of a dataset prepared from ../shared/datasets is found again by the planner: the
dataset converted here again has the same content (its fingerprint is part of each result's identity). Skipped,
with the reason, where the raw copies are absent."""

import pytest
import json

from conftest import REPO_ROOT, SHARED_DATASETS
from unit.test_committed_results import check_found, committed

from recbole_ilora.config import Config
from recbole_ilora.converters.pipeline import ConvertOptions, prepare

ROOT = REPO_ROOT / "docs" / "leaderboard" / "results"
# dataset -> (converter, raw folders under ../shared/datasets, options)
PREPARED = {
    "llara-lastfm": ("llara-ref", ["llara-ref/lastfm"], ConvertOptions(variant="lastfm")),
    "lastfm": ("lastfm", ["hetrec2011-lastfm-2k"], ConvertOptions()),
}


def _prepared(dataset, tmp_path):
    converter, folders, options = PREPARED[dataset]
    raw = [SHARED_DATASETS / folder for folder in folders]
    if not all(folder.exists() for folder in raw):
        pytest.skip(f"real raw data not available here: {raw} (see ../shared/datasets/README.md)")
    prepare(converter, raw, tmp_path / "data", options)
    return tmp_path / "data"


@pytest.mark.parametrize("dataset", sorted(PREPARED))
def test_the_planner_finds_every_committed_result_of_a_prepared_dataset(dataset, tmp_path):
    paths = committed(ROOT, datasets=(dataset,))
    if not paths:
        pytest.skip(f"no committed results of {dataset} yet")
    check_found(ROOT, paths, data_root=_prepared(dataset, tmp_path))


def test_on_llara_lastfm_the_llm_models_encoder_is_the_committed_sasrec_baseline(tmp_path):
    """properties/model/iLoRA/llara-lastfm.yaml: there the encoder is trained to early stopping, as the baseline is,
    for iLoRA and the models derived from it; SASRec itself and iLoRA on ml-100k keep their keys."""
    data = {"data_path": str(_prepared("llara-lastfm", tmp_path)), "seed": 2020}
    [baseline] = (ROOT / "llara-lastfm" / "llara").glob("SASRec-seed2020-*.json")
    baseline_hash = json.loads(baseline.read_text())["config_hash"]
    assert Config("SASRec", "llara-lastfm", config_dict=data).experiment_hash == baseline_hash
    assert "encoder_config" not in Config("SASRec", "llara-lastfm", config_dict=data).final_config_dict
    for model in ("iLoRA", "LoRARec"):
        config = Config(model, "llara-lastfm", config_dict=data)
        assert config["encoder_config"] == {}
        assert config.experiment["prerequisites"] == {"sasrec_checkpoint": baseline_hash}
    assert Config("iLoRA", "ml-100k")["encoder_config"] == {"epochs": 10}
