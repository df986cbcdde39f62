"""Each run's log: open before its checks, fed what was logged while the config was built, and handed back to the
outer run when a prerequisite run inside it ends."""

import logging
from pathlib import Path

from recbole_ilora.config import Config
from recbole_ilora.run_log import early_records, run_log


def test_early_records_reach_the_log_and_a_nested_run_hands_it_back(tmp_path):
    root = logging.getLogger()
    before = root.handlers[:]
    with early_records() as earlier:
        logging.getLogger().warning("said while building the config")
        outer = Config("SASRec", "ml-100k", cmd_args=["--state=INFO"])
    with run_log(outer, earlier) as outer_file:
        logging.getLogger().info("outer before")
        with run_log(Config("Pop", "ml-100k", cmd_args=["--state=INFO"])) as inner_file:
            logging.getLogger().info("inner")
        logging.getLogger().info("outer after")
    assert root.handlers == before
    outer_text, inner_text = Path(outer_file).read_text(), Path(inner_file).read_text()
    assert outer_file != inner_file
    assert outer_text.index("said while building the config") < outer_text.index("outer before") < \
        outer_text.index("outer after")
    assert "inner" not in outer_text and "inner" in inner_text and "outer" not in inner_text


def test_two_runs_started_in_the_same_second_log_to_their_own_files(tmp_path, monkeypatch):
    """RecBole names a log by model, dataset, second and config: two runs of one experiment would share it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("recbole.utils.logger.get_local_time", lambda: "Dec-07-2026_12-00-00")
    config = Config("Pop", "ml-100k", cmd_args=["--state=INFO"])
    with run_log(config) as first, run_log(config) as second:
        logging.getLogger().info("second run")
    assert first != second and Path(first).is_file() and "second run" in Path(second).read_text()
    assert sorted(path.name for path in (tmp_path / "log" / "Pop").iterdir()) == sorted(
        [Path(first).name, Path(second).name])  # RecBole's shared name is not left behind
