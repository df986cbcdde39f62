"""Where a dataset's atomic files are: a data_path the file system cannot follow is named."""

import pytest

from recbole_ilora.data.location import resolve_data_path
from recbole_ilora.errors import DatasetNotFoundError


@pytest.mark.parametrize("name", ["loop", "d" * 300])
def test_a_data_path_the_file_system_cannot_follow_is_named(tmp_path, name):
    """A link to itself was a RuntimeError traceback, a name too long an OSError one."""
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(DatasetNotFoundError, match=r"^data_path '.*' cannot be followed \(.*\): a link that leads"):
        resolve_data_path("tiny", tmp_path / name)
