"""File digests are remembered under ``llm_cache_dir`` (never elsewhere in HOME), one record per fingerprinted file,
so that runs at the same time keep each other's digests."""

import pytest
from conftest import TINY_RUN, write_atomic_dataset

from recbole_ilora.config import Config
from recbole_ilora.data import fingerprint
from recbole_ilora.data.fingerprint import CACHE_FOLDER, files_fingerprint


@pytest.fixture(autouse=True)
def fresh_process():
    """Each test starts as a new process would: no digest remembered in memory."""
    fingerprint.file_digest.cache_clear()
    yield
    fingerprint.file_digest.cache_clear()


def test_digests_are_remembered_under_llm_cache_dir_not_in_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data_root = write_atomic_dataset(tmp_path / "data")
    config = Config("SASRec", "tiny", config_dict={**TINY_RUN, "data_path": str(data_root),
                                                   "llm_cache_dir": str(tmp_path / "cache")})
    assert set(config.experiment["data_fingerprint"]) == {"tiny.inter", "tiny.item"}
    assert len(list((tmp_path / "cache" / CACHE_FOLDER).glob("*.json"))) == 2
    assert not (tmp_path / "home").exists()


def test_runs_at_the_same_time_keep_each_others_digests(tmp_path, monkeypatch):
    """While one run hashes a file, another remembers the digest of its own file; both are remembered."""
    first, second = tmp_path / "first.inter", tmp_path / "second.inter"
    first.write_text("a")
    second.write_text("b")
    cache = tmp_path / "cache"
    hash_file = fingerprint.file_sha256

    def hashed_while_another_run_remembers_its_file(path):
        if path == str(first.resolve()):
            files_fingerprint([second], cache)
        return hash_file(path)

    monkeypatch.setattr(fingerprint, "file_sha256", hashed_while_another_run_remembers_its_file)
    expected = {**files_fingerprint([first], cache), **files_fingerprint([second], cache)}
    fingerprint.file_digest.cache_clear()  # a later run: every digest must come from the records, none read again
    monkeypatch.setattr(fingerprint, "file_sha256", lambda path: pytest.fail(f"{path} was hashed again"))
    assert {**files_fingerprint([first], cache), **files_fingerprint([second], cache)} == expected


def test_an_edited_file_is_hashed_again(tmp_path):
    path = tmp_path / "tiny.inter"
    path.write_text("a")
    before = files_fingerprint([path], tmp_path / "cache")
    path.write_text("b")
    fingerprint.file_digest.cache_clear()
    assert files_fingerprint([path], tmp_path / "cache") != before
