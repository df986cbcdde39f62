"""Raw files are read plain or gzip by their content; a .gz name on plain text is read, with a counted warning; a
raw file's name on a folder or device is named as such."""

import gzip
import os
import re

import pytest

from recbole_ilora.converters.issues import Issues
from recbole_ilora.converters.rawfiles import RawFolders, read_lines
from recbole_ilora.errors import RawDataError


def test_a_plain_file_named_gz_is_read_with_a_warning_and_a_real_gz_without(tmp_path):
    plain, packed = tmp_path / "plain.json.gz", tmp_path / "packed.json.gz"
    plain.write_text("a\nb\n")
    packed.write_bytes(gzip.compress(b"a\nb\n"))
    for path, warnings in ((plain, 1), (packed, 0)):
        issues = Issues()
        assert list(read_lines(path, "utf-8", issues)) == [(1, "a"), (2, "b")]
        assert issues.count("file named .gz is not gzip-compressed: read as plain text") == warnings


@pytest.mark.parametrize("make, message", [
    (lambda path: path.mkdir(), "is a folder"),
    (lambda path: path.symlink_to("/dev/zero"), "is not a regular file (a device, named pipe or socket)"),
    (lambda path: os.mkfifo(path), "is not a regular file (a device, named pipe or socket)")])
def test_a_raw_file_that_is_no_regular_file_is_named_not_missing(tmp_path, make, message):
    """'Missing raw file' sent the user looking for a file that was there (a folder, a link to /dev/zero)."""
    make(tmp_path / "ratings.dat")
    with pytest.raises(RawDataError, match=re.escape(f"{tmp_path / 'ratings.dat'} {message}")):
        RawFolders(tmp_path).find("ratings.dat")
