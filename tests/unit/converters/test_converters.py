"""Dataset converters on tiny raw files written here in the real formats, and their round trip through RecBole."""

import gzip
import json
import os
from pathlib import Path

import pytest
from conftest import TINY_RUN
from recbole_ilora.data import create_dataset
from recbole.utils import init_seed

from recbole_ilora.config import Config, available_protocols
from recbole_ilora.converters import atomic
from recbole_ilora.converters.cli import main
from recbole_ilora.converters.pipeline import ConvertOptions, prepare
from recbole_ilora.converters.stats import folder_stats
from recbole_ilora.data import data_preparation
from recbole_ilora.data.titles import item_titles
from recbole_ilora.errors import ConfigurationError, DataError, DatasetNotFoundError, OutputExistsError, RawDataError
from recbole_ilora.quick_start import run


def write(path, text, encoding="utf-8"):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding) if isinstance(text, str) else text
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def options(**values):
    return ConvertOptions(**values)


def read_table(path):
    """Rows of an atomic file as RecBole's reader sees them (header split off)."""
    import pandas as pd
    frame = pd.read_csv(path, sep="\t", dtype=str, engine="python")
    frame.columns = [column.split(":")[0] for column in frame.columns]
    return frame


def loaded(name, data_root, model="SASRec", **overrides):
    """RecBole's dataset and loaders for a converted dataset, with its properties/dataset YAML."""
    config = Config(model, name, config_dict={**{k: v for k, v in TINY_RUN.items() if k != "load_col"},
                                              "data_path": str(data_root), **overrides})
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    return config, dataset, data_preparation(config, dataset)


# ---------------------------------------------------------------- ml-1m

MOVIES = ("1::Toy Story (1995)::Animation|Children's|Comedy\n"
          "2::Misérables, Les (1995)::Drama|Musical\n"
          "3::Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)::Drama\n"
          "4::\"Weird\" Film (1999)::Comedy\n"
          "5::Untimed Classic::Drama\n")


def ml1m_raw(folder, users=6, missing_field_line=True, extra=""):
    """ratings.dat with ``users`` users rating movies 1-5 (two same-second ties), latin-1 movies.dat."""
    lines = []
    for user in range(1, users + 1):
        for step, movie in enumerate([3, 1, 2, 4, 5]):
            lines.append(f"{user}::{movie}::{(user + movie) % 5 + 1}::{978300000 + 10 * step - (step == 1) * 10}")
    if missing_field_line:
        lines.insert(3, "1::2::5")
    write(folder / "ratings.dat", "\n".join(lines) + "\n" + extra)
    write(folder / "movies.dat", MOVIES, "latin-1")
    write(folder / "users.dat", "".join(f"{u}::F::25::7::1234{u}\n" for u in range(1, users + 2)))
    return folder


def test_ml1m_converts_with_recboles_field_names_and_latin1_titles(tmp_path):
    raw = ml1m_raw(tmp_path / "raw")
    report = prepare("ml-1m", raw, tmp_path / "out", options())
    folder = tmp_path / "out" / "ml-1m"
    assert report.folder == folder and report.status == "written"
    assert (folder / "ml-1m.inter").read_text().splitlines()[0] == \
        "user_id:token\titem_id:token\trating:float\ttimestamp:float"
    assert (folder / "ml-1m.item").read_text().splitlines()[0] == \
        "item_id:token\tmovie_title:token\trelease_year:token\tgenre:token_seq"
    items = read_table(folder / "ml-1m.item").set_index("item_id")
    assert items.loc["2", "movie_title"] == "Misérables, Les" and items.loc["2", "release_year"] == "1995"
    assert items.loc["3", "movie_title"] == "Shanghai Triad (Yao a yao yao dao waipo qiao)"
    assert items.loc["4", "movie_title"] == '"Weird" Film'  # a leading quote survives RecBole's reader
    assert items.loc["1", "genre"] == "Animation Children's Comedy"
    inter = read_table(folder / "ml-1m.inter")
    # user 1 in time order; movies 3 and 1 share a second: raw file order breaks the tie
    assert inter[inter["user_id"] == "1"]["item_id"].tolist() == ["3", "1", "2", "4", "5"]
    assert len(read_table(folder / "ml-1m.user")) == 6  # users.dat has a 7th user without ratings
    assert report.converted.raw_counts == {"ratings": 30, "users": 6, "rated movies": 5, "movie titles": 5}
    (warning,) = report.warnings  # the line with a missing field, named with its file and line
    assert warning.startswith("1 x malformed line:") and f"{raw / 'ratings.dat'}:4" in warning
    stats = report.converted.stats
    assert (stats["users"], stats["items"], stats["interactions"]) == (6, 5, 30)
    assert stats["mean seq length"] == 5 and stats["sparsity"] == 0
    text = report.text()
    assert "| ml-1m" in text and "sparsity" in text and "mean seq length" in text


def test_ml1m_round_trip_titles_readable_from_the_model_side(tmp_path):
    prepare("ml-1m", ml1m_raw(tmp_path / "raw"), tmp_path / "out", options())
    config = Config("SASRec", "ml-1m", config_dict={"data_path": str(tmp_path / "out"), "state": "WARNING"})
    before_build = item_titles(create_dataset(config), "movie_title")  # a token field, read before the split too
    config, dataset, (_, _, test) = loaded("ml-1m", tmp_path / "out")
    assert item_titles(dataset, "movie_title") == before_build
    assert config["item_text_field"] == "movie_title" and config["item_domain"] == "movie"
    titles = item_titles(dataset, config["item_text_field"])
    by_token = dict(zip(dataset.field2id_token["item_id"][1:], titles[1:]))
    assert by_token == {"1": "Toy Story", "2": "Misérables, Les", "3": "Shanghai Triad (Yao a yao yao dao waipo qiao)",
                        "4": '"Weird" Film', "5": "Untimed Classic"}
    assert len(test._dataset) == 6  # leave-one-out: one test row per user


def test_wrong_separator_is_an_error_naming_file_and_line(tmp_path):
    write(tmp_path / "raw" / "ratings.dat", "1,1,5,978300000\n1,2,4,978300001\n")
    write(tmp_path / "raw" / "movies.dat", MOVIES, "latin-1")
    with pytest.raises(RawDataError, match=r"ratings\.dat:1: expected 4 fields separated by '::'.*comma"):
        prepare("ml-1m", tmp_path / "raw", tmp_path / "out", options())
    assert not (tmp_path / "out" / "ml-1m").exists()


def test_mostly_unparsable_file_is_an_error(tmp_path):
    raw = ml1m_raw(tmp_path / "raw", users=1, missing_field_line=False, extra="x::y\n" * 10)
    with pytest.raises(RawDataError, match=r"10 of 15 lines could not be parsed"):
        prepare("ml-1m", raw, tmp_path / "out", options())


def test_strict_turns_a_malformed_line_into_an_error(tmp_path):
    with pytest.raises(RawDataError, match=r"ratings\.dat:4: malformed line.*--strict"):
        prepare("ml-1m", ml1m_raw(tmp_path / "raw"), tmp_path / "out", options(strict=True))


def test_utf8_file_where_latin1_is_documented_is_a_counted_warning(tmp_path):
    raw = ml1m_raw(tmp_path / "raw")
    write(raw / "movies.dat", MOVIES, "utf-8")
    report = prepare("ml-1m", raw, tmp_path / "out", options())
    assert any("looks UTF-8-encoded" in w and "movies.dat:2" in w and "--encoding=utf-8" in w
               for w in report.warnings)
    fixed = prepare("ml-1m", raw, tmp_path / "fixed", options(encoding="utf-8"))
    assert read_table(fixed.folder / "ml-1m.item").set_index("item_id").loc["2", "movie_title"] == "Misérables, Les"


def test_missing_raw_file_names_what_is_needed(tmp_path):
    write(tmp_path / "raw" / "movies.dat", MOVIES, "latin-1")
    with pytest.raises(RawDataError, match=r"Missing raw file: none of ratings\.dat.*UserID::MovieID"):
        prepare("ml-1m", tmp_path / "raw", tmp_path / "out", options())


def test_items_without_metadata_are_dropped_and_counted(tmp_path):
    raw = ml1m_raw(tmp_path / "raw", missing_field_line=False, extra="1::99::5::978400000\n2::99::4::978400000\n")
    report = prepare("ml-1m", raw, tmp_path / "out", options())
    assert "dropped 1 item(s) without a title in 2 interaction(s), e.g. item ids 99" in report.text()
    assert "99" not in set(read_table(report.folder / "ml-1m.inter")["item_id"])
    kept = prepare("ml-1m", raw, tmp_path / "kept", options(drop_untitled=False))
    assert "99" in set(read_table(kept.folder / "ml-1m.inter")["item_id"]) and "--keep_untitled" in kept.text()


def test_min_rating_and_k_core(tmp_path):
    raw = ml1m_raw(tmp_path / "raw", missing_field_line=False)
    report = prepare("ml-1m", raw, tmp_path / "out", options(min_rating=3, min_item_inter=4))
    inter = read_table(report.folder / "ml-1m.inter")
    assert (inter["rating"].astype(float) >= 3).all()
    assert inter["item_id"].value_counts().min() >= 4 and set(inter["item_id"]) == {"1", "2", "3"}
    assert "minimum rating 3: dropped 12 interaction(s)" in report.text()
    assert "k-core (users >= 1, items >= 4 interactions, 2 round(s)): dropped 6 interaction(s)" in report.text()


def test_empty_result_after_filtering_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(RawDataError, match=r"No interactions left for ml-1m after filtering.*--min_user_inter"):
        prepare("ml-1m", ml1m_raw(tmp_path / "raw"), tmp_path / "out", options(min_user_inter=50))
    assert not (tmp_path / "out" / "ml-1m").exists()


def test_output_folder_with_different_data_is_kept_unless_overwrite(tmp_path):
    raw = ml1m_raw(tmp_path / "raw")
    out = tmp_path / "out"
    assert prepare("ml-1m", raw, out, options()).status == "written"
    assert prepare("ml-1m", raw, out, options()).status == "unchanged"
    before = (out / "ml-1m" / "ml-1m.inter").read_bytes()
    with pytest.raises(OutputExistsError, match=r"ml-1m already holds a different dataset \(ml-1m.inter"):
        prepare("ml-1m", raw, out, options(min_rating=4))
    assert (out / "ml-1m" / "ml-1m.inter").read_bytes() == before
    assert prepare("ml-1m", raw, out, options(min_rating=4, overwrite=True)).status == "replaced"
    assert (out / "ml-1m" / "ml-1m.inter").read_bytes() != before
    assert sorted(os.listdir(out)) == ["ml-1m"]  # no partial or retired folder left behind


def test_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = []

    def failing_write(path, table):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_write(path, table)

    real_write = atomic.write_table
    monkeypatch.setattr(atomic, "write_table", failing_write)
    with pytest.raises(KeyboardInterrupt):
        prepare("ml-1m", ml1m_raw(tmp_path / "raw"), tmp_path / "out", options())
    assert os.listdir(tmp_path / "out") == []


def test_cli_exit_status_2_with_the_message_and_stats(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ml-1m", "--raw", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "prepare_dataset: error: --raw" in capsys.readouterr().err
    raw = ml1m_raw(tmp_path / "raw")
    assert main(["ml-1m", "--raw", str(raw), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "ml-1m ->" in printed and "| ml-1m" in printed
    assert main(["--stats", str(tmp_path / "out" / "ml-1m")]) == 0
    table = capsys.readouterr().out
    assert "| ml-1m" in table and "| 6 " in table and "| 30 " in table


def test_exact_duplicate_interactions_are_dropped_and_counted(tmp_path):
    raw = ml1m_raw(tmp_path / "raw", missing_field_line=False)
    ratings = raw / "ratings.dat"
    ratings.write_text(ratings.read_text() * 2 + "1::3::1::978300000\n")  # the same again, rated otherwise
    report = prepare("ml-1m", raw, tmp_path / "out", options())
    assert "dropped 31 exact duplicate interaction(s) (same user, item and timestamp; the first in file order " \
           "kept), e.g. (user, item) (1, 3), (1, 1)" in report.text()
    inter = read_table(report.folder / "ml-1m.inter")
    assert len(inter) == 30 and inter.iloc[0].tolist() == ["1", "3", "5", "978300000"]  # the first line's rating
    assert report.converted.stats["sparsity"] == 0


def test_sparsity_counts_distinct_user_item_pairs(tmp_path):
    raw = ml1m_raw(tmp_path / "raw", missing_field_line=False, extra="2::4::4::978400000\n")  # rated again later
    stats = prepare("ml-1m", raw, tmp_path / "out", options()).converted.stats
    assert (stats["interactions"], stats["sparsity"]) == (31, 0)


@pytest.mark.parametrize("line, detail", [
    ("2::3::-4::978300100", "rating -4 is not a whole star 1-5"),
    ("2::3::6::978300100", "rating 6 is not a whole star 1-5"),
    ("2::3::3.5::978300100", "rating 3.5 is not a whole star 1-5"),
    ("2::3::nan::978300100", "rating nan is not a whole star 1-5"),
    ("2::3::4::-978300100", "timestamp -978300100 is before 1970"),
    ("u2::3::4::978300100", "user id 'u2' is not a number"),
])
def test_ratings_outside_ml1ms_documented_ranges_are_malformed_lines(tmp_path, line, detail):
    raw = ml1m_raw(tmp_path / "raw", missing_field_line=False, extra=line + "\n")
    report = prepare("ml-1m", raw, tmp_path / "out", options())
    (warning,) = report.warnings
    assert warning.startswith(f"1 x malformed line: {raw / 'ratings.dat'}:31 ({detail}")
    assert report.converted.stats["interactions"] == 30
    with pytest.raises(RawDataError, match=r"ratings\.dat:31: malformed line.*--strict"):
        prepare("ml-1m", raw, tmp_path / "strict", options(strict=True))


def test_stats_refuses_a_malformed_atomic_file_by_file_and_line(tmp_path, capsys):
    folder = tmp_path / "tiny"
    write(folder / "tiny.inter", "user_id:token\titem_id:token\nu1\ti1\nu1\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--stats", str(folder)])
    assert exit_info.value.code == 2
    assert f"prepare_dataset: error: {folder / 'tiny.inter'}, line 3: 1 fields where the header has 2" \
        in capsys.readouterr().err
    write(folder / "tiny.inter", "user_id:token\titem_id:token\nu1\ti1\n\ti2\n")
    with pytest.raises(DataError, match=r"tiny\.inter, line 3: empty user_id"):
        folder_stats(folder)


def test_stats_of_pre_split_plain_interactions_per_part_and_in_all(tmp_path, capsys):
    """run_recbole --protocol=llara reads pre-split files of plain interactions: --stats refused them."""
    folder = tmp_path / "split"
    header = "user_id:token\titem_id:token\ttimestamp:float\n"
    write(folder / "split.train.inter", header + "u1\ti1\t1\nu1\ti2\t2\nu2\ti1\t1\nu2\ti3\t2\n")
    write(folder / "split.valid.inter", header + "u1\ti3\t3\nu2\ti2\t3\n")
    write(folder / "split.test.inter", header + "u1\ti4\t4\nu2\ti4\t4\n")
    stats = folder_stats(folder)
    assert [(row["part"], row["users"], row["items"], row["interactions"]) for row in stats] == [
        ("train", 2, 3, 4), ("valid", 2, 2, 2), ("test", 2, 1, 2), ("all", 2, 4, 8)]
    assert main(["--stats", str(folder)]) == 0
    assert "| all " in capsys.readouterr().out
    write(folder / "split.test.inter", "user_id:token\titem_id_list:token_seq\titem_id:token\nu1\ti1 i2\ti4\n")
    with pytest.raises(DataError, match=r"split\.train\.inter has no item_id_list column .* but .*split\.test\.inter "
                                        r"has: the parts of a pre-split dataset are all samples"):
        folder_stats(folder)


# ---------------------------------------------------------------- lastfm

ARTISTS_HEADER = "id\tname\turl\tpictureURL\n"


def lastfm_raw(folder, timestamps=False):
    artists = (ARTISTS_HEADER + "1\tCafé Del Mar\thttp://a\thttp://b\n"
               + '2\t"Weird Al" Yankovic\thttp://a\thttp://b\n' + "3\tGlee Cast\uf800\thttp://a\thttp://b\n")
    raw_bytes = artists.encode("utf-8") + "4\tBjörk\thttp://a\thttp://b\n".encode("latin-1")
    write(folder / "artists.dat", raw_bytes + b"5\tMotorhead\thttp://a\thttp://b\n")
    tags = "userID\tartistID\ttagID\tday\tmonth\tyear\n"
    tags += "2\t3\t10\t1\t4\t2009\n2\t1\t11\t1\t4\t2009\n2\t3\t12\t1\t4\t2009\n2\t2\t13\t15\t3\t2009\n"
    tags += "2\t4\t14\t1\t5\t2009\n2\t9\t15\t2\t5\t2009\n2\t5\t16\t31\t2\t2009\n"  # artist 9: no name; 31 Feb
    tags += "3\t5\t10\t1\t1\t2010\n3\t4\t10\t2\t1\t2010\n3\t1\t10\t3\t1\t2010\n3\t2\n"  # missing fields
    write(folder / "user_taggedartists.dat", tags.replace("\n", "\r\n"))
    if timestamps:
        stamps = "userID\tartistID\ttagID\ttimestamp\n"
        stamps += "2\t1\t11\t1238536800000\n2\t3\t10\t1238536900000\n2\t2\t13\t1238536700000\n"
        stamps += "3\t5\t10\t1262304000000\n3\t4\t10\t1262304000000\n"
        write(folder / "user_taggedartists-timestamps.dat", stamps)
    write(folder / "user_artists.dat", "userID\tartistID\tweight\n2\t1\t100\n2\t5\t50\n3\t3\t70\n3\t1\t20\n")
    return folder


def sequences(folder, name):
    inter = read_table(folder / f"{name}.inter")
    return {user: rows["item_id"].tolist() for user, rows in inter.groupby("user_id", sort=False)}


def test_lastfm_day_order_with_stable_ties_and_odd_names(tmp_path):
    raw = lastfm_raw(tmp_path / "raw")
    report = prepare("lastfm", raw, tmp_path / "out", options())
    assert report.converted.raw_counts == {"users": 2, "artists": 5, "tag assignments": 9, "listen pairs": 4,
                                           "tagged (user, artist) pairs": 8}
    # 15 March first; the three 1 April assignments in file order, artist 3 once; artist 9 has no name
    assert sequences(report.folder, "lastfm") == {"2": ["2", "3", "1", "4"], "3": ["5", "4", "1"]}
    warnings = "\n".join(report.warnings)
    assert "line not valid utf-8, read as latin-1" in warnings and "artists.dat:5" in warnings
    assert "bad date" in warnings and "user_taggedartists.dat:8" in warnings  # 31 February
    assert "user_taggedartists.dat:12" in warnings  # the line with missing fields
    assert "dropped 1 item(s) without a title in 1 interaction(s), e.g. item ids 9" in report.text()
    config, dataset, _ = loaded("lastfm", tmp_path / "out")
    assert (config["item_text_field"], config["item_domain"]) == ("artist_name", "artist")
    titles = dict(zip(dataset.field2id_token["item_id"][1:], item_titles(dataset, "artist_name")[1:]))
    assert titles == {"1": "Café Del Mar", "2": '"Weird Al" Yankovic', "3": "Glee Cast\uf800", "4": "Björk",
                      "5": "Motorhead"}


def test_lastfm_timestamps_file_wins_repeats_and_listens(tmp_path):
    raw = lastfm_raw(tmp_path / "raw", timestamps=True)
    report = prepare("lastfm", raw, tmp_path / "out", options())
    assert "user_taggedartists-timestamps.dat" in report.text()
    assert sequences(report.folder, "lastfm") == {"2": ["2", "1", "3"], "3": ["5", "4"]}  # 5, 4: tie, file order
    raw2 = lastfm_raw(tmp_path / "raw2")
    with open(raw2 / "user_taggedartists.dat", "a") as file:
        file.write("2\t2\t17\t2\t5\t2009\n")  # artist 2 again, another day
    repeats = prepare("lastfm", raw2, tmp_path / "repeats", options(keep_repeats=True))
    # artist 3's second tag on the same day is the same interaction: once; the 31 Feb line is skipped
    assert sequences(repeats.folder, "lastfm")["2"] == ["2", "3", "1", "4", "2"]
    assert "dropped 1 exact duplicate interaction(s)" in repeats.text()
    assert repeats.converted.stats["sparsity"] == 1 - 7 / (2 * 5)  # distinct (user, artist) pairs
    listens = prepare("lastfm", raw, tmp_path / "listens", options(with_listens=True))
    inter = read_table(listens.folder / "lastfm.inter")
    # listen-only pairs (2,5), (3,3), (3,1) come first, a day before the user's first tag assignment
    assert sequences(listens.folder, "lastfm") == {"2": ["5", "2", "1", "3"], "3": ["3", "1", "5", "4"]}
    first_tag = inter[(inter["user_id"] == "2") & (inter["item_id"] == "2")]["timestamp"].astype(float).item()
    listen = inter[(inter["user_id"] == "2") & (inter["item_id"] == "5")]["timestamp"].astype(float).item()
    assert first_tag - listen == 86400


def test_lastfm_reads_the_columns_by_the_headers_names(tmp_path):
    """A header naming the columns in another order was counted as a malformed line and the columns were read by
    position (users taken for artists, exit status 0)."""
    expected = prepare("lastfm", lastfm_raw(tmp_path / "raw"), tmp_path / "out", options())
    raw = lastfm_raw(tmp_path / "swapped")
    tags = raw / "user_taggedartists.dat"
    lines = [line.split("\t") for line in tags.read_text().splitlines()]
    tags.write_text("".join("\t".join([fields[1], fields[0], *fields[2:]]) + "\n" for fields in lines))
    report = prepare("lastfm", raw, tmp_path / "out2", options())
    assert sequences(report.folder, "lastfm") == sequences(expected.folder, "lastfm")
    assert report.warnings == [warning.replace("/raw/", "/swapped/") for warning in expected.warnings]
    tags.write_text(tags.read_text().replace("artistID", "artist", 1))
    with pytest.raises(RawDataError, match=r"user_taggedartists\.dat:1: the header names the columns \['artist', "
                                           r"'userID', .*not the documented \['userID', 'artistID', "):
        prepare("lastfm", raw, tmp_path / "out3", options())


# ---------------------------------------------------------------- steam

GAMES = [
    "{u'app_name': u'Lost Summoner Kitty', u'id': u'761140', u'genres': [u'Action']}",
    "{'app_name': \"Tom's \\\"Quoted\\\" Game\", 'id': '100'}",  # a quote and an apostrophe in the title
    "{'app_name': '\"Glow Ball\" - The billiard puzzle game', 'id': '200'}",
    "{'title': 'Only A Title', 'id': '300'}",
    "{'app_name': 'No Id Here'}",
    "__import__('os').system('touch PWNED')",  # must never be executed
]


def review(user, item, date):
    return f"{{u'username': u'{user}', u'hours': 1.5, u'product_id': u'{item}', u'date': u'{date}', " \
           f"u'text': u'it\\'s fun', u'early_access': False}}"


def steam_raw(folder, reviews=None):
    write(folder / "steam_games.json.gz", "\n".join(GAMES) + "\n")
    reviews = reviews or [review("Chaos Syren", "761140", "2017-12-17"), review("Chaos Syren", "100", "2017-12-01"),
                          review("Chaos Syren", "200", "2017-12-17"), review("ann", "300", "2016-01-01"),
                          review("ann", "761140", "2016-01-02"), review("ann", "300", "2016-02-01"),
                          review("ann", "555", "2016-02-01"), "{'username': 'broken'"]
    write(folder / "steam_reviews.json.gz", "\n".join(reviews) + "\n")
    return folder


def test_steam_reviews_and_titles_via_literal_eval_only(tmp_path):
    report = prepare("steam", steam_raw(tmp_path / "raw"), tmp_path / "out", options())
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
    assert sequences(report.folder, "steam") == {"Chaos Syren": ["100", "761140", "200"], "ann": ["300", "761140"]}
    warnings = "\n".join(report.warnings)
    assert "steam_games.json.gz:6" in warnings and "steam_games.json.gz:5" in warnings  # the call; no id
    assert "steam_reviews.json.gz:8" in warnings  # the truncated dict
    assert "dropped 1 item(s) without a title in 1 interaction(s), e.g. item ids 555" in report.text()
    # every user kept (steam.yaml keeps users with 3+ interactions; "ann" has 2), so that every title is read
    config, dataset, _ = loaded("steam", tmp_path / "out", user_inter_num_interval="[0,inf)")
    assert (config["item_text_field"], config["item_domain"]) == ("app_name", "game")
    titles = dict(zip(dataset.field2id_token["item_id"][1:], item_titles(dataset, "app_name")[1:]))
    assert titles == {"100": 'Tom\'s "Quoted" Game', "761140": "Lost Summoner Kitty",
                      "200": '"Glow Ball" - The billiard puzzle game', "300": "Only A Title"}


def test_steam_australian_reviews_skip_dates_without_a_year(tmp_path):
    record = ("{'user_id': 'u1', 'user_url': 'x', 'reviews': ["
              "{'item_id': '100', 'posted': 'Posted November 5, 2011.'}, "
              "{'item_id': '200', 'posted': 'Posted July 15.'}, "
              "{'item_id': '761140', 'posted': 'Posted May 2, 2011.'}]}")
    folder = tmp_path / "raw"
    write(folder / "steam_games.json.gz", "\n".join(GAMES) + "\n")
    write(folder / "australian_user_reviews.json.gz", record + "\n")
    report = prepare("steam", folder, tmp_path / "out", options())
    assert sequences(report.folder, "steam") == {"u1": ["761140", "100"]}
    assert any("dated without a year" in w and "australian_user_reviews.json.gz:1" in w for w in report.warnings)


def australian_raw(folder, dates):
    """australian_user_reviews.json.gz of one user reviewing games 100, 200, ... on ``dates`` ("Posted ...")."""
    reviews = ", ".join(f"{{'item_id': '{100 * (index + 1)}', 'posted': '{date}'}}" for index, date in enumerate(dates))
    write(folder / "steam_games.json.gz", "\n".join(GAMES) + "\n")
    write(folder / "australian_user_reviews.json.gz", f"{{'user_id': 'u1', 'reviews': [{reviews}]}}\n")
    return folder


def test_steam_review_dates_with_whole_or_cut_month_names(tmp_path):
    """Dates such as "Posted Jun 19, 2012." were skipped as bad dates (268 of 297 reviews, exit status 0)."""
    raw = australian_raw(tmp_path / "raw", ["Posted Jun 19, 2012.", "Posted Sept 3, 2011.", "Posted May 2, 2013."])
    report = prepare("steam", raw, tmp_path / "out", options())
    assert sequences(report.folder, "steam") == {"u1": ["200", "100", "300"]}
    assert not any("bad date" in warning for warning in report.warnings)
    inter = read_table(report.folder / "steam.inter").set_index("item_id")["timestamp"].astype(float)
    whole = australian_raw(tmp_path / "whole", ["Posted June 19, 2012."])
    assert read_table(prepare("steam", whole, tmp_path / "out2", options()).folder / "steam.inter")[
        "timestamp"].astype(float).tolist() == [inter["100"]] == [1340064000.0]


@pytest.mark.parametrize("converter, raw, bad", [
    ("ml-1m", lambda folder: ml1m_raw(folder, missing_field_line=False, extra="1::1::9::978300000\n" * 40),
     r"ratings\.dat: 40 of 70 lines could not be parsed.*First bad lines: .*ratings\.dat:31 \(rating 9 is not a whole "
     r"star 1-5; UserID::MovieID::Rating::Timestamp\)"),
    ("lastfm", lambda folder: write(lastfm_raw(folder) / "user_taggedartists.dat",
                                    "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t1\t10\t1\t1\t2009\n"
                                    + "x\t1\t10\t1\t1\t2009\n" * 2).parent,
     r"user_taggedartists\.dat: 2 of 3 lines could not be parsed.*First bad lines: .*user_taggedartists\.dat:3 \(user "
     r"and artist ids must be numbers"),
    ("steam", lambda folder: steam_raw(folder, [review("ann", "100", "2016-01-01")]
                                       + [review("ann", "200", "01/02/2016")] * 2),
     r"steam_reviews\.json\.gz: 2 of 3 lines could not be parsed.*First bad lines: .*steam_reviews\.json\.gz:2 "
     r"\(date '01/02/2016', expected YYYY-MM-DD\)"),
    ("steam", lambda folder: australian_raw(folder, ["Posted May 2, 2013.", "Posted 2/5/2013.", "Posted 3/5/2013."]),
     r"australian_user_reviews\.json\.gz: 2 of 3 reviews could not be parsed.*First bad reviews: "
     r".*australian_user_reviews\.json\.gz:1 \(unrecognised date 'Posted 2/5/2013\.'\)"),
])
def test_mostly_unusable_lines_or_reviews_are_an_error_in_every_converter(tmp_path, converter, raw, bad):
    """ml-1m refused a file of mostly unparsable lines, but lines (or reviews) that parsed and then failed a
    converter's checks were counted as warnings only, and mostly dropped."""
    with pytest.raises(RawDataError, match=bad):
        prepare(converter, raw(tmp_path / "raw"), tmp_path / "out", options())


def test_invalid_utf8_is_an_error_naming_line_and_option(tmp_path):
    folder = steam_raw(tmp_path / "raw")
    write(folder / "steam_games.json.gz", b"{'app_name': 'ok', 'id': '1'}\n{'app_name': 'bad \xe9', 'id': '2'}\n")
    with pytest.raises(RawDataError, match=r"steam_games\.json\.gz:2: not valid utf-8.*--encoding"):
        prepare("steam", folder, tmp_path / "out", options())


def test_steam_without_interactions_says_which_files_are_needed(tmp_path):
    write(tmp_path / "raw" / "steam_games.json.gz", "\n".join(GAMES) + "\n")
    with pytest.raises(RawDataError, match=r"steam_reviews\.json.*australian_user_reviews\.json.*titles only"):
        prepare("steam", tmp_path / "raw", tmp_path / "out", options())


# ---------------------------------------------------------------- llara-ref

def llara_raw(folder, train=True, items=30, pairs=False):
    pad = items
    write(folder / "id2name.txt", "".join(f"{i}::Artist {i}\n" for i in range(items - 1)) + f"{items - 1}::A::B\n")

    def sample(history, target):
        seq = history + [pad] * (10 - len(history))
        if pairs:  # MovieLens: [item, rating]
            seq, target = [[item, 4] for item in seq], [target, 5]
        return json.dumps({"seq": seq, "len_seq": max(1, len(history)), "next": target})

    if train:
        rows = [sample(list(range(s, s + n)), s + n) for s in range(15) for n in range(10)]
        write(folder / "train_data.jsonl", "\n".join(rows) + "\n")
    write(folder / "Val_data.jsonl", "\n".join([sample([1, 2, 3], 4), sample([5, 6, 7, 8], 9), sample([1, 2], 3),
                                                sample([20, 21, 22, 23, 24, 25, 26, 27, 28, 10], 11), "{oops"]) + "\n")
    write(folder / "Test_data.jsonl", "\n".join([sample([2, 3, 4], 5), sample([6, 7, 8, 9], 10),
                                                 sample([20, 21, 22, 23, 24, 25, 26, 27, 28, 11], 12)]) + "\n")
    return folder


def test_llara_ref_writes_the_papers_split_as_benchmark_files(tmp_path):
    report = prepare("llara-ref", llara_raw(tmp_path / "raw" / "lastfm"), tmp_path / "out", options())
    folder = tmp_path / "out" / "llara-lastfm"
    assert report.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "conversion.json", "llara-lastfm.item", "llara-lastfm.test.inter", "llara-lastfm.train.inter",
        "llara-lastfm.valid.inter"]
    valid = read_table(folder / "llara-lastfm.valid.inter")
    assert valid.values.tolist() == [["valid-1", "1 2 3", "4"], ["valid-2", "5 6 7 8", "9"],
                                     ["valid-4", "20 21 22 23 24 25 26 27 28 10", "11"]]  # 2-item history left out
    assert "valid: kept 3 of 4 samples; 1 with fewer than 3 history items left out" in report.text()
    assert any("Val_data.jsonl:5" in w for w in report.warnings)  # the malformed line
    assert len(read_table(folder / "llara-lastfm.train.inter")) == sum(1 for s in range(15) for n in range(3, 10))
    assert read_table(folder / "llara-lastfm.item").set_index("item_id").loc["29", "artist_name"] == "A::B"
    assert [row["part"] for row in report.converted.stats] == ["train", "valid", "test"]


def test_llara_protocol_trains_and_evaluates_on_the_papers_samples(tmp_path):
    prepare("llara-ref", llara_raw(tmp_path / "raw" / "lastfm"), tmp_path / "out", options())
    assert "llara" in available_protocols()
    config, dataset, (train, valid, test) = loaded("llara-lastfm", tmp_path / "out")
    assert config["protocol"] == "llara" and config["benchmark_filename"] == ["train", "valid", "test"]
    assert (len(train._dataset), len(valid._dataset), len(test._dataset)) == (105, 3, 3)
    titles = item_titles(dataset, config["item_text_field"])
    assert titles[dataset.token2id("item_id", "7")] == "Artist 7"
    # each test sample ranks its target among 20 candidates, none of them from its own history
    history = {"test-1": {"2", "3", "4"}, "test-2": {"6", "7", "8", "9"},
               "test-3": {"20", "21", "22", "23", "24", "25", "26", "27", "28", "11"}}
    target = {"test-1": "5", "test-2": "10", "test-3": "12"}
    data = test._dataset
    for interaction, _, _, _ in test:
        users = data.id2token("user_id", interaction["user_id"].numpy())
        items = data.id2token("item_id", interaction["item_id"].numpy())
        for user in set(users):
            candidates = [item for u, item in zip(users, items) if u == user]
            assert len(candidates) == len(set(candidates)) == 20 and candidates[0] == target[user]
            assert not set(candidates) & history[user]


def test_sasrec_one_epoch_on_the_llara_protocol(tmp_path):
    prepare("llara-ref", llara_raw(tmp_path / "raw" / "lastfm"), tmp_path / "out", options())
    result = run("SASRec", "llara-lastfm", config_dict={**{k: v for k, v in TINY_RUN.items() if k != "load_col"},
                                                        "data_path": str(tmp_path / "out")})
    assert result["protocol"] == "llara" and result["per_user_test"]["user"] == ["test-1", "test-2", "test-3"]
    assert result["candidates_sha256"]["test"] and 0 <= result["test"]["hit@10"] <= 1


def test_llara_ref_without_train_file_needs_the_explicit_option(tmp_path):
    raw = llara_raw(tmp_path / "raw" / "steam", train=False)
    with pytest.raises(RawDataError, match=r"train_data\.jsonl.*not in this copy.*--train_from_histories"):
        prepare("llara-ref", raw, tmp_path / "out", options())
    report = prepare("llara-ref", raw, tmp_path / "out", options(train_from_histories=True))
    train = read_table(report.folder / "llara-steam.train.inter")
    # prefixes of >= 3 items of the valid and test histories, each (history, next) once
    assert ["train-valid2.3", "5 6 7", "8"] in train.values.tolist()
    assert len(train) == len({tuple(row) for row in train[["item_id_list", "item_id"]].values.tolist()})
    assert "not available" in report.text()


def test_llara_ref_variant_detection_and_filters(tmp_path):
    root = tmp_path / "llara-ref"
    llara_raw(root / "lastfm")
    with pytest.raises(RawDataError, match=r"It holds lastfm: pass one of them.*--variant"):
        prepare("llara-ref", root, tmp_path / "out", options())
    assert prepare("llara-ref", root, tmp_path / "out", options(variant="lastfm")).folder.name == "llara-lastfm"
    with pytest.raises(ConfigurationError, match="as published"):
        prepare("llara-ref", root / "lastfm", tmp_path / "out2", options(min_user_inter=5))


def test_llara_ref_names_the_variant_it_detects_and_refuses_a_folder_fitting_several(tmp_path):
    """A lastfm folder that also held a u.item was converted as movielens without a word, and failed with an empty
    list of bad lines."""
    raw = llara_raw(tmp_path / "raw" / "data")
    write(raw / "u.item", "".join(f"{i}|Movie {i} (1995)|01-Jan-1995||http://x|0|1\n" for i in range(1, 31)),
          "latin-1")
    with pytest.raises(RawDataError, match=r"its catalogue files fit several \(id2name\.txt \(lastfm or steam\); u\.item "
                                           r"\(movielens\)\)\. Pass --variant lastfm\|steam\|movielens"):
        prepare("llara-ref", raw, tmp_path / "out", options())
    (raw / "id2name.txt").unlink()
    report = prepare("llara-ref", raw, tmp_path / "out", options())
    assert report.converted.name == "llara-movielens"
    assert f"note: variant movielens, from {raw / 'u.item'}, the catalogue of movielens only" in report.text()
    write(raw / "Val_data.jsonl", "{oops\n" * 4 + (raw / "Test_data.jsonl").read_text())
    with pytest.raises(RawDataError, match=r"Val_data\.jsonl: 4 of 7 lines could not be parsed.*First bad lines: "
                                           r".*Val_data\.jsonl:1 \(Expecting property name"):
        prepare("llara-ref", raw, tmp_path / "out2", options())


def test_llara_ref_movielens_titles_as_the_papers_build_them(tmp_path):
    folder = llara_raw(tmp_path / "raw" / "movielens", train=False, pairs=True)
    (folder / "id2name.txt").unlink()
    u_item = "".join(f"{i}|Movie {i} (1995)|01-Jan-1995||http://x|0|1\n" for i in range(1, 31))
    u_item = u_item.replace("Movie 1 (1995)", "Usual Suspects, The (1995)").replace("Movie 2 (1995)", "Amélie (2001) ")
    write(folder / "u.item", u_item, "latin-1")
    report = prepare("llara-ref", folder, tmp_path / "out", options(train_from_histories=True))
    items = read_table(report.folder / "llara-movielens.item").set_index("item_id")
    assert items.loc["0", "movie_title"] == "The Usual Suspects" and items.loc["1", "movie_title"] == "Amélie"
    assert items.loc["29", "movie_title"] == "Movie 30"


def test_protocol_and_dataset_kind_mismatch_names_the_protocol(tmp_path):
    prepare("llara-ref", llara_raw(tmp_path / "raw" / "lastfm"), tmp_path / "out", options())
    with pytest.raises(DatasetNotFoundError, match=r"pre-split.*--protocol=llara"):
        Config("SASRec", "llara-lastfm", config_dict={"data_path": str(tmp_path / "out"), "protocol": "candidates20"})
    with pytest.raises(DatasetNotFoundError, match=r"pre-split dataset.*--protocol=candidates20"):
        Config("SASRec", "ml-100k", config_dict={"protocol": "llara"})
    with pytest.raises(DatasetNotFoundError, match=r"`prepare_dataset llara-ref --raw PATH/steam"):
        Config("SASRec", "llara-steam", config_dict={"data_path": str(tmp_path / "out")})
