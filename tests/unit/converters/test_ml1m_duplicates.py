"""A MovieID that movies.dat lists twice: with another title it is refused (which title is right cannot be told),
as an exact repeat it is a counted warning."""

import pytest
from unit.converters.test_converters import MOVIES, ml1m_raw, options, read_table, write

from recbole_ilora.converters.pipeline import prepare
from recbole_ilora.errors import RawDataError


def test_a_movie_id_listed_again_with_another_title_is_refused_naming_file_and_lines(tmp_path):
    raw = ml1m_raw(tmp_path / "raw")
    write(raw / "movies.dat", MOVIES + "1::Other Title (1999)::Drama\n", "latin-1")
    movies = raw / "movies.dat"
    with pytest.raises(RawDataError, match=rf"{movies}:6: MovieID 1 is listed twice with different titles or genres "
                                           rf"\('Toy Story \(1995\)' at {movies}:1, 'Other Title \(1999\)' here\): "
                                           rf"remove the wrong line from movies.dat"):
        prepare("ml-1m", raw, tmp_path / "out", options())
    assert not (tmp_path / "out" / "ml-1m").exists()


def test_an_exact_repeat_of_a_movie_line_is_a_counted_warning(tmp_path):
    raw = ml1m_raw(tmp_path / "raw")
    write(raw / "movies.dat", MOVIES + MOVIES.splitlines(keepends=True)[0], "latin-1")
    report = prepare("ml-1m", raw, tmp_path / "out", options())
    assert any("duplicate movie id (first kept)" in line and "movies.dat:6" in line for line in report.warnings)
    assert read_table(report.folder / "ml-1m.item").set_index("item_id").loc["1", "movie_title"] == "Toy Story"
