"""MovieLens-1M: ``ratings.dat`` + ``movies.dat`` (+ ``users.dat``) -> ``ml-1m.inter`` / ``.item`` (/ ``.user``).

GroupLens' files are latin-1 and ``::``-separated. The output uses the field names of RecBole's own ml-1m
(``user_id, item_id, rating, timestamp``; ``item_id, movie_title, release_year, genre``; ``user_id, age, gender,
occupation, zip_code``), so configs written for RecBole's download work unchanged. As in RecBole's copy, the year
leaves the title for ``release_year`` ("Toy Story (1995)" -> "Toy Story", 1995); ``movie_title`` is a token field
here (RecBole's is token_seq), so that each title survives as one exact string.
"""

import re

import pandas as pd

from recbole_ilora.converters.pipeline import Source, to_sequences
from recbole_ilora.converters.rawfiles import read_fields, timestamp
from recbole_ilora.errors import RawDataError

NAME = "ml-1m"
SUMMARY = "MovieLens-1M: ratings.dat + movies.dat (+ users.dat), latin-1, '::'-separated"
ENCODING = "latin-1"  # GroupLens' documented encoding for ML-1M
SEPARATOR = "::"
RATINGS_COLUMNS = ("UserID", "MovieID", "Rating", "Timestamp")
MOVIES_COLUMNS = ("MovieID", "Title", "Genres")
USERS_COLUMNS = ("UserID", "Gender", "Age", "Occupation", "Zip-code")
TITLE_YEAR = re.compile(r"^(.*\S)\s*\((\d{4})\)\s*$")
STARS = frozenset(range(1, 6))  # GroupLens' README: "a 5-star scale (whole-star ratings only)"


def add_arguments(parser):
    """ml-1m has only the shared options."""


def _movie(movie, title, genres):
    """A movies.dat line's fields; ``ValueError`` unless its id is a number."""
    if not movie.strip().isdigit():
        raise ValueError(f"movie id {movie!r} is not a number")
    return movie.strip(), title, genres


def read_movies(path, encoding, issues):
    """One row per movie id: item, movie_title, release_year, genre (list). A movie id repeated with another title
    or genres is an error: which one is right cannot be told (an exact repeat is a counted warning)."""
    rows, seen = [], {}  # movie id -> (where, title, genres) of its first line
    for where, _, (movie, title, genres) in read_fields(path, encoding, issues, SEPARATOR, MOVIES_COLUMNS, _movie):
        if movie in seen:
            first, *entry = seen[movie]
            if entry != [title, genres]:
                raise RawDataError(f"{where}: MovieID {movie} is listed twice with different titles or genres "
                                   f"({entry[0]!r} at {first}, {title!r} here): remove the wrong line from "
                                   f"movies.dat.")
            issues.warn("duplicate movie id (first kept)", where, movie)
            continue
        seen[movie] = (where, title, genres)
        match = TITLE_YEAR.match(title)
        name, year = (match.group(1), match.group(2)) if match else (title.strip(), "")
        rows.append((movie, name, year, [genre.replace(" ", "_") for genre in genres.split("|") if genre]))
    return pd.DataFrame(rows, columns=["item", "movie_title", "release_year", "genre"])


def _rating(user, movie, rating, stamp):
    """``(user, movie, rating, timestamp)`` of a ratings.dat line; ``ValueError`` outside the README's ranges:
    numeric ids, whole stars 1-5, timestamps in seconds since 1970 (as time(2) returns them)."""
    for what, value in (("user", user), ("movie", movie)):
        if not value.strip().isdigit():
            raise ValueError(f"{what} id {value!r} is not a number")
    stars, seconds = float(rating), timestamp(stamp)
    if stars not in STARS:
        raise ValueError(f"rating {rating.strip()} is not a whole star 1-5")
    if seconds < 0:
        raise ValueError(f"timestamp {stamp.strip()} is before 1970")
    return user.strip(), movie.strip(), stars, seconds


def read_ratings(path, encoding, issues, progress):
    """Interactions: user, item, rating, timestamp, order."""
    rows = [record for _, _, record in read_fields(path, encoding, issues, SEPARATOR, RATINGS_COLUMNS, _rating,
                                                   progress=progress)]
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return ratings.assign(order=range(len(ratings)))


def read_users(path, encoding, issues):
    rows = [(user, age, gender, occupation, zip_code) for _, _, (user, gender, age, occupation, zip_code)
            in read_fields(path, encoding, issues, SEPARATOR, USERS_COLUMNS)]
    return pd.DataFrame(rows, columns=["user", "age", "gender", "occupation", "zip_code"])


def convert(raw, options, issues):
    encoding = options.encoding or ENCODING
    ratings_path = raw.find("ratings.dat", hint="MovieLens-1M's ratings (UserID::MovieID::Rating::Timestamp).")
    movies_path = raw.find("movies.dat", hint="MovieLens-1M's titles (MovieID::Title::Genres).")
    users_path = raw.find_optional("users.dat")
    movies = read_movies(movies_path, encoding, issues)
    ratings = read_ratings(ratings_path, encoding, issues, options.progress)
    users = read_users(users_path, encoding, issues) if users_path else None
    source = Source(
        interactions=ratings,
        items=movies,
        item_fields=[("item", "item_id", "token"), ("movie_title", "movie_title", "token"),
                     ("release_year", "release_year", "token"), ("genre", "genre", "token_seq")],
        text_column="movie_title",
        raw_counts={"ratings": len(ratings), "users": ratings["user"].nunique(), "rated movies":
                    ratings["item"].nunique(), "movie titles": len(movies)},
        users=users,
        user_fields=[("user", "user_id", "token"), ("age", "age", "token"), ("gender", "gender", "token"),
                     ("occupation", "occupation", "token"), ("zip_code", "zip_code", "token")],
    )
    converted = to_sequences(source, options, options.name or NAME)
    converted.raw_files = [p for p in (ratings_path, movies_path, users_path) if p]
    return converted
