"""Where a dataset's atomic files are: a data_path the file system cannot follow is named, and so is what makes a run
read pre-split files a dataset does not have."""

import re

import pytest

from recbole_ilora.config import Config
from recbole_ilora.data.location import resolve_data_path
from recbole_ilora.errors import DatasetNotFoundError


@pytest.mark.parametrize("name", ["loop", "d" * 300])
def test_a_data_path_the_file_system_cannot_follow_is_named(tmp_path, name):
    """A link to itself was a RuntimeError traceback, a name too long an OSError one."""
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(DatasetNotFoundError, match=r"^data_path '.*' cannot be followed \(.*\): a link that leads"):
        resolve_data_path("tiny", tmp_path / name)


def test_a_one_file_dataset_read_as_pre_split_names_the_key_or_the_protocol_that_asked(tiny_data_root):
    """benchmark_filename given with a leave-one-out protocol was told to run the protocol it ran with."""
    parts = ["train", "valid", "test"]
    with pytest.raises(DatasetNotFoundError, match=re.escape(f"but benchmark_filename={parts} reads a pre-split "
                                                             f"dataset") + r".*Leave benchmark_filename unset to have "
                                                                           r"the protocol split tiny\.inter"):
        Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data_root), "benchmark_filename": parts})
    with pytest.raises(DatasetNotFoundError, match=r"but the protocol 'llara' reads a pre-split dataset .* Run it with "
                                                   r"a leave-one-out protocol \(--protocol=candidates20 or full\)"):
        Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data_root), "protocol": "llara"})
