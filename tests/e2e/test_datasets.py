"""The converters on the real raw files in ../shared/datasets: published counts, titles, RecBole round trips.

Skipped, with the reason, where that folder (or one dataset in it) is absent: a user's machine will not have it.
"""

import gzip

import pytest
from conftest import SHARED_DATASETS, TINY_RUN
from recbole_ilora.data import create_dataset
from recbole.utils import init_seed

from recbole_ilora.config import Config
from recbole_ilora.converters.issues import Issues
from recbole_ilora.converters.pipeline import ConvertOptions, prepare
from recbole_ilora.converters.steam import read_games
from recbole_ilora.data import data_preparation
from recbole_ilora.data.titles import item_titles
from recbole_ilora.errors import RawDataError


def shared(*parts):
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real raw data not available here: {path} is absent (see ../shared/datasets/README.md)")
    return path


def titles_by_token(name, data_root, build=False):
    """Whole titles keyed by raw item id, as an LLM model reads them (RecBole's dataset + titles.py); with
    ``build``, from the training split RecBole builds, as the model receives it.

    Returns ``(config, dataset, (train, valid, test) or None, titles)``."""
    config = Config("SASRec", name, config_dict={**{k: v for k, v in TINY_RUN.items() if k != "load_col"},
                                                 "data_path": str(data_root)})
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    loaders = data_preparation(config, dataset) if build else None
    titles = item_titles(loaders[0]._dataset if build else dataset, config["item_text_field"])
    return config, dataset, loaders, dict(zip(dataset.field2id_token[dataset.iid_field][1:], titles[1:]))


def test_lastfm_published_counts_and_titles(tmp_path):
    report = prepare("lastfm", shared("hetrec2011-lastfm-2k"), tmp_path, ConvertOptions())
    raw = report.converted.raw_counts
    # The HetRec 2011 readme: 1,892 users, 17,632 artists, 186,479 tag assignments, 92,834 listen relations.
    assert (raw["users"], raw["artists"], raw["tag assignments"], raw["listen pairs"]) == (1892, 17632, 186479, 92834)
    assert raw["tagged (user, artist) pairs"] == 71064
    assert "dropped 390 item(s) without a title" in report.text()  # tagged artists missing from artists.dat
    stats = report.converted.stats
    assert (stats["users"], stats["items"], stats["interactions"]) == (1891, 12133, 70297)
    _, _, _, titles = titles_by_token("lastfm", tmp_path)
    assert titles["73"] == "Café Del Mar" and titles["1686"] == '"Weird Al" Yankovic'
    assert titles["158"] == "עברי לידר"  # Hebrew survives as UTF-8


def test_ml1m_all_3883_titles_and_the_partial_ratings(tmp_path):
    report = prepare("ml-1m", [shared("ml-1m"), shared("ml-1m-partial")], tmp_path, ConvertOptions())
    raw = report.converted.raw_counts
    assert raw["movie titles"] == 3883  # the GroupLens README's count
    assert (raw["ratings"], raw["users"]) == (487650, 2999)  # the partial file: first 487,650 lines, users 1..2999
    assert report.warnings == [] and "items without a title: none" in report.text()
    _, _, _, titles = titles_by_token("ml-1m", tmp_path)
    assert titles["1"] == "Toy Story" and titles["73"] == "Misérables, Les"  # latin-1 in the raw file


def test_steam_game_titles_with_reviews_written_here(tmp_path):
    games_file = shared("steam", "steam_games.json.gz")
    games = read_games(games_file, "utf-8", Issues())
    assert len(games) == 32132 and games["app_name"].notna().sum() == 32131  # 32,135 lines: 2 without id, 1 dup
    # No Steam interactions are available here: reviews in Kang & McAuley's format, for real game ids.
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "steam_games.json.gz").symlink_to(games_file)
    ids = {"761140": "Lost Summoner Kitty", "643980": "Ironbound"}
    quoted = games[games["app_name"].fillna("").str.startswith('"')].iloc[0]
    ids[quoted["item"]] = quoted["app_name"]
    lines = [f"{{u'username': u'user{u}', u'product_id': u'{item}', u'date': u'2017-0{u + 1}-0{k + 1}'}}"
             for u in range(3) for k, item in enumerate(ids)]
    (raw / "steam_reviews.json.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    report = prepare("steam", raw, tmp_path / "out", ConvertOptions())
    assert report.converted.stats["interactions"] == 9
    _, _, _, titles = titles_by_token("steam", tmp_path / "out")
    assert titles == ids


def test_steam_reports_the_missing_interactions_file(tmp_path):
    with pytest.raises(RawDataError, match=r"steam_reviews\.json.*australian_user_reviews\.json"):
        prepare("steam", shared("steam"), tmp_path, ConvertOptions())


def test_llara_ref_lastfm_exact_split_through_recbole(tmp_path):
    report = prepare("llara-ref", shared("llara-ref", "lastfm"), tmp_path, ConvertOptions())
    raw = report.converted.raw_counts
    assert raw == {"catalogue items": 4606, "train samples": 50800, "valid samples": 122, "test samples": 122}
    kept = {row["part"]: row["samples (users)"] for row in report.converted.stats}
    assert kept == {"train": 47872, "valid": 122, "test": 122}  # the papers' len_seq >= 3
    _, _, (_, _, test), titles = titles_by_token("llara-lastfm", tmp_path, build=True)
    assert titles["2"] == "Café Del Mar" and len(titles) == 4606
    data = test._dataset
    assert len(data) == 122
    # Every test sample keeps its published history and target, and no candidate comes from its history.
    first = data.inter_feat[0:1]
    history = data.id2token("item_id", first["item_id_list"][0][:first["item_length"][0]]).tolist()
    user, target = data.id2token("user_id", first["user_id"].item()), data.id2token("item_id", first["item_id"].item())
    assert (user, history, target) == ("test-1", ["392", "225", "234", "576", "577", "272"], "578")
    sampler = test._sampler
    for row in range(len(data)):
        user, target = int(data.inter_feat["user_id"][row]), int(data.inter_feat["item_id"][row])
        negatives = set(sampler.negatives(user, target, 19).tolist())
        assert len(negatives) == 19 and not negatives & set(data.inter_feat["item_id_list"][row].tolist())


@pytest.mark.parametrize("variant, valid, test", [("movielens", 94, 95), ("steam", 1184, 1186)])
def test_llara_ref_without_train_file(tmp_path, variant, valid, test):
    with pytest.raises(RawDataError, match="--train_from_histories"):
        prepare("llara-ref", shared("llara-ref", variant), tmp_path, ConvertOptions())
    report = prepare("llara-ref", shared("llara-ref", variant), tmp_path,
                     ConvertOptions(train_from_histories=True))
    kept = {row["part"]: row["samples (users)"] for row in report.converted.stats}
    assert (kept["valid"], kept["test"]) == (valid, test)
    _, _, _, titles = titles_by_token(f"llara-{variant}", tmp_path)
    if variant == "movielens":
        assert titles["0"] == "Toy Story" and titles["11"] == "The Usual Suspects"
