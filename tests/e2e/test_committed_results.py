"""Every committed JSON result of a dataset prepared from ../shared/datasets is found again by the planner: the
dataset converted here again has the same content (its fingerprint is part of each result's identity). Skipped,
with the reason, where the raw copies are absent."""

import pytest
from conftest import REPO_ROOT, SHARED_DATASETS
from unit.test_committed_results import check_found, committed

from recbole_ilora.converters.pipeline import ConvertOptions, prepare

ROOT = REPO_ROOT / "docs" / "leaderboard" / "results"
# dataset -> (converter, raw folders under ../shared/datasets, options)
PREPARED = {
    "llara-lastfm": ("llara-ref", ["llara-ref/lastfm"], ConvertOptions(variant="lastfm")),
    "lastfm": ("lastfm", ["hetrec2011-lastfm-2k"], ConvertOptions()),
}


@pytest.mark.parametrize("dataset", sorted(PREPARED))
def test_the_planner_finds_every_committed_result_of_a_prepared_dataset(dataset, tmp_path):
    paths = committed(ROOT, datasets=(dataset,))
    if not paths:
        pytest.skip(f"no committed results of {dataset} yet")
    converter, folders, options = PREPARED[dataset]
    raw = [SHARED_DATASETS / folder for folder in folders]
    if not all(folder.exists() for folder in raw):
        pytest.skip(f"real raw data not available here: {raw} (see ../shared/datasets/README.md)")
    prepare(converter, raw, tmp_path / "data", options)
    check_found(ROOT, paths, data_root=tmp_path / "data")
