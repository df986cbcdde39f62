"""Raw files are read plain or gzip by their content; a .gz name on plain text is read, with a counted warning."""

import gzip

from recbole_ilora.converters.issues import Issues
from recbole_ilora.converters.rawfiles import read_lines


def test_a_plain_file_named_gz_is_read_with_a_warning_and_a_real_gz_without(tmp_path):
    plain, packed = tmp_path / "plain.json.gz", tmp_path / "packed.json.gz"
    plain.write_text("a\nb\n")
    packed.write_bytes(gzip.compress(b"a\nb\n"))
    for path, warnings in ((plain, 1), (packed, 0)):
        issues = Issues()
        assert list(read_lines(path, "utf-8", issues)) == [(1, "a"), (2, "b")]
        assert issues.count("file named .gz is not gzip-compressed: read as plain text") == warnings
