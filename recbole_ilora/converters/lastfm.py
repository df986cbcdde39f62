"""HetRec 2011 Last.fm-2k: tag assignments as time-ordered sequences -> ``lastfm.inter`` / ``lastfm.item``.

Sequences come from ``user_taggedartists-timestamps.dat`` (milliseconds) when present, else from
``user_taggedartists.dat`` (day / month / year, so same-day assignments keep their file order). One interaction per
(user, artist), at the user's first tag assignment of that artist (``--keep_repeats``: one per assignment time;
several tags given to an artist at the same time, or on the same day, are one interaction).
``--with_listens`` adds the (user, artist) pairs of ``user_artists.dat`` that the user never tagged: they carry no
time, so they are placed one day before the user's first tag assignment, in file order. Titles: artist names
from ``artists.dat`` (UTF-8; a line in another encoding is read as latin-1 and counted), field ``artist_name``.
"""

from datetime import datetime, timezone
from functools import cache

import pandas as pd

from recbole_ilora.converters.pipeline import Source, to_sequences
from recbole_ilora.converters.rawfiles import read_fields, timestamp

NAME = "lastfm"
SUMMARY = "HetRec 2011 Last.fm-2k: user_taggedartists[-timestamps].dat + artists.dat (+ user_artists.dat)"
ENCODING = "utf-8"
FALLBACK_ENCODING = "latin-1"  # artists.dat lines that are not UTF-8
DAY = 86400.0
LISTEN_ORDER_OFFSET = 10**9  # listen-only pairs sort after every tag line when times tie
HEADERS = {  # each file's columns, as its header names them (in any order: the lines are read by these names)
    "artists.dat": ("id", "name", "url", "pictureURL"),
    "user_taggedartists.dat": ("userID", "artistID", "tagID", "day", "month", "year"),
    "user_taggedartists-timestamps.dat": ("userID", "artistID", "tagID", "timestamp"),
    "user_artists.dat": ("userID", "artistID", "weight"),
}


def add_arguments(group):
    group.add_argument("--with_listens", action="store_true",
                       help="add listen-only (user, artist) pairs from user_artists.dat, one day before the user's "
                            "first tag assignment")
    group.add_argument("--keep_repeats", action="store_true",
                       help="one interaction per tag assignment time (same-time tags of an artist: once) instead "
                            "of per (user, artist)")


def _rows(path, kind, issues, encoding, record, fallback=None, progress=False):
    """``(where, order, record)`` per data line of a tab-separated HetRec file, read by its header's column names
    (``rawfiles.read_fields``: a ``ValueError`` of ``record`` makes a malformed line)."""
    return read_fields(path, encoding, issues, "\t", HEADERS[kind], record, header=True, fallback_encoding=fallback,
                       progress=progress)


def _ids(*values):
    """User and artist ids, which are numbers."""
    if all(value.strip().isdigit() for value in values):
        return [value.strip() for value in values]
    raise ValueError("user and artist ids must be numbers")


def _artist(artist, name, _url, _picture):
    """An artists.dat line's id and name; ``ValueError`` unless the id is a number."""
    if not artist.strip().isdigit():
        raise ValueError(f"artist id {artist!r} is not a number")
    return artist.strip(), name


def read_artists(path, encoding, issues):
    rows, seen = [], set()
    for where, _, (artist, name) in _rows(path, "artists.dat", issues, encoding, _artist, FALLBACK_ENCODING):
        if artist in seen:
            issues.warn("duplicate artist id (first kept)", where, artist)
        else:
            seen.add(artist)
            rows.append((artist, name))
    return pd.DataFrame(rows, columns=["item", "artist_name"])


@cache  # a few thousand distinct dates among the assignments
def _date_seconds(day, month, year):
    return datetime(int(year), int(month), int(day), tzinfo=timezone.utc).timestamp()


def _assignment(timestamped):
    """What makes a tag assignment line ``(user, artist, seconds)``: its time from milliseconds, or from day, month
    and year."""
    def record(user, artist, _tag, *time):
        ids = _ids(user, artist)
        try:
            seconds = timestamp(time[0]) / 1000 if timestamped else _date_seconds(*time)
        except (ValueError, OverflowError) as error:
            raise ValueError(f"bad date or timestamp: {error}") from None
        return (*ids, seconds)

    return record


def read_tag_assignments(path, encoding, issues, progress):
    """user, item, timestamp (seconds), order (line number) of every tag assignment."""
    timestamped = path.name.startswith("user_taggedartists-timestamps")
    kind = "user_taggedartists-timestamps.dat" if timestamped else "user_taggedartists.dat"
    rows = [(*assignment, number) for _, number, assignment
            in _rows(path, kind, issues, encoding, _assignment(timestamped), progress=progress)]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp", "order"])


def _listen(user, artist, _weight):
    return _ids(user, artist)


def read_listens(path, encoding, issues):
    rows = [(*ids, number) for _, number, ids in _rows(path, "user_artists.dat", issues, encoding, _listen)]
    return pd.DataFrame(rows, columns=["user", "item", "order"])


def _listen_only(tags, listens):
    """Listened, never-tagged pairs, timed one day before each user's first tag assignment (0 if none)."""
    tagged = pd.MultiIndex.from_frame(tags[["user", "item"]])
    extra = listens[~pd.MultiIndex.from_frame(listens[["user", "item"]]).isin(tagged)]
    first = tags.groupby("user")["timestamp"].min() - DAY
    return extra.assign(timestamp=extra["user"].map(first).fillna(0.0),
                        order=extra["order"] - LISTEN_ORDER_OFFSET)


def convert(raw, options, issues):
    encoding = options.encoding or ENCODING
    tags_path = raw.find_optional("user_taggedartists-timestamps.dat") or raw.find(
        "user_taggedartists.dat", hint="Last.fm-2k's tag assignments (userID, artistID, tagID, day, month, year).")
    artists_path = raw.find("artists.dat", hint="Last.fm-2k's artist names (id, name, url, pictureURL).")
    listens_path = raw.find_optional("user_artists.dat")
    artists = read_artists(artists_path, encoding, issues)
    tags = read_tag_assignments(tags_path, encoding, issues, options.progress)
    listens = read_listens(listens_path, encoding, issues) if listens_path else None
    if options.with_listens and listens is None:
        raw.find("user_artists.dat", hint="--with_listens reads the listen counts from it.")
    notes = [f"sequences ordered by {tags_path.name}" + ("" if "timestamps" in tags_path.name else
                                                         " (day resolution; same-day order = file order)")]
    raw_counts = {"users": len(set(tags["user"]) | set(listens["user"] if listens is not None else [])),
                  "artists": len(artists), "tag assignments": len(tags)}
    if listens is not None:
        raw_counts["listen pairs"] = len(listens)
    inter = tags
    if not options.keep_repeats:
        inter = tags.sort_values(["timestamp", "order"], kind="stable").drop_duplicates(["user", "item"])
        raw_counts["tagged (user, artist) pairs"] = len(inter)
    if options.with_listens:
        extra = _listen_only(tags, listens)
        notes.append(f"{len(extra):,} listen-only pairs added one day before each user's first tag assignment")
        inter = pd.concat([inter, extra], ignore_index=True)
    source = Source(interactions=inter, items=artists, text_column="artist_name", raw_counts=raw_counts,
                    item_fields=[("item", "item_id", "token"), ("artist_name", "artist_name", "token")], notes=notes)
    converted = to_sequences(source, options, options.name or NAME)
    converted.raw_files = [p for p in (tags_path, artists_path, listens_path) if p]
    return converted
