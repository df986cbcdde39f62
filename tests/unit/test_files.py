"""Atomic writes: concurrent writers and readers of one file, interrupted writes, concurrent folder producers; the
output checks before a run's work."""

import json
import multiprocessing
import os

import pytest

from recbole_ilora.config import Config
from recbole_ilora.errors import OutputFolderError
from recbole_ilora.files import PARTIAL_TAG, check_writable, folder_atomic, remove_stale_partials, write_json_atomic
from recbole_ilora.quick_start import check_outputs


def _write_many(path, writer, count):
    for index in range(count):
        write_json_atomic({"writer": writer, "index": index, "padding": "x" * 20000}, path)


def test_two_processes_writing_one_json_never_show_a_reader_a_corrupt_file(tmp_path):
    path = tmp_path / "result.json"
    write_json_atomic({"writer": -1}, path)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(path, writer, 150)) for writer in range(2)]
    for process in writers:
        process.start()
    reads = 0
    while any(process.is_alive() for process in writers) or reads < 200:
        json.loads(path.read_text())  # raises on a half-written file
        reads += 1
    for process in writers:
        process.join()
        assert process.exitcode == 0
    assert not list(tmp_path.glob(f"*{PARTIAL_TAG}*"))


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "adapter"
    dead = tmp_path / f"adapter{PARTIAL_TAG}999999999-abcd"  # no such process
    dead.mkdir()
    (dead / "half.bin").write_bytes(b"\0" * 100)
    alive = tmp_path / f"adapter{PARTIAL_TAG}{os.getpid()}-ef01"
    alive.write_text("being written")
    assert remove_stale_partials(target) == 1
    assert not dead.exists() and alive.exists()


def test_a_failed_folder_write_leaves_the_old_folder_and_no_temporary(tmp_path):
    target = tmp_path / "cache"
    target.mkdir()
    (target / "weights").write_text("old")
    with pytest.raises(RuntimeError), folder_atomic(target) as partial:
        (partial / "weights").write_text("new, half")
        raise RuntimeError("killed")
    assert (target / "weights").read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_concurrent_producers_of_one_cache_keep_the_first_and_leave_no_temporary(tmp_path):
    target = tmp_path / "cache"
    with folder_atomic(target, keep_existing=True) as first, folder_atomic(target, keep_existing=True) as second:
        (first / "model").write_text("first")
        (second / "model").write_text("second")
    # the inner block (second) finished first and won; the outer one found the cache and dropped its copy
    assert (target / "model").read_text() == "second" and list(tmp_path.iterdir()) == [target]


def test_a_dangling_link_where_an_output_folder_goes_is_refused_before_work(tmp_path):
    """A link to a missing folder passed the check (its parent is writable) and failed after training."""
    (tmp_path / "results").symlink_to(tmp_path / "gone")
    with pytest.raises(OutputFolderError, match="results is a link to .*gone, which does not exist"):
        check_writable(tmp_path / "results" / "ml-100k", "results_dir")


def test_an_output_folder_the_file_system_refuses_to_look_up_is_refused_by_key(tmp_path):
    """A name longer than the file system takes was an OSError traceback from the existence check."""
    with pytest.raises(OutputFolderError, match=r"^checkpoint_dir .*c{300} cannot be written \(File name too long\)"):
        check_writable(tmp_path / ("c" * 300), "checkpoint_dir")


def test_a_file_where_the_results_folder_goes_is_refused_before_work(tmp_path):
    """A file at results/DATASET was found only when the JSON result was written, after training."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "ml-100k").write_text("precious")
    config = Config("SASRec", "ml-100k", cmd_args=[f"--results_dir={tmp_path / 'results'}"])
    with pytest.raises(OutputFolderError, match=r"results/ml-100k is a file, not a folder"):
        check_outputs(config)
    assert (tmp_path / "results" / "ml-100k").read_text() == "precious"


def test_an_llm_cache_dir_that_cannot_be_written_is_refused_before_work(tmp_path):
    config = Config("SASRec", "ml-100k", cmd_args=[f"--results_dir={tmp_path}", "--llm_cache_dir=/proc/cache"])
    with pytest.raises(OutputFolderError, match=r"^llm_cache_dir /proc/cache cannot be written"):
        check_outputs(config)
