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
from recbole_ilora.converters.rawfiles import HEADER, parse_lines, split_fields, timestamp

NAME = "lastfm"
SUMMARY = "HetRec 2011 Last.fm-2k: user_taggedartists[-timestamps].dat + artists.dat (+ user_artists.dat)"
ENCODING = "utf-8"
FALLBACK_ENCODING = "latin-1"  # artists.dat lines that are not UTF-8
DAY = 86400.0
LISTEN_ORDER_OFFSET = 10**9  # listen-only pairs sort after every tag line when times tie
HEADERS = {  # first line of each file, and its layout for messages
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


def _rows(path, kind, issues, encoding, fallback=None, progress=False):
    """``(where, order, fields)`` per data line of a tab-separated HetRec file (its header line skipped)."""
    header = HEADERS[kind]
    layout = "\\t".join(header)

    def fields(text, where, first):
        if first and [f.strip().lower() for f in text.split("\t")] == [h.lower() for h in header]:
            return HEADER
        return split_fields(text, "\t", len(header), where, issues, layout, first=first)

    return parse_lines(path, encoding, issues, fields, fallback_encoding=fallback, progress=progress)


def _ids(where, issues, *values):
    if all(value.strip().isdigit() for value in values):
        return [value.strip() for value in values]
    issues.warn("malformed line", where, "user and artist ids must be numbers")
    return None


def read_artists(path, encoding, issues):
    rows, seen = [], set()
    for where, _, (artist, name, _url, _picture) in _rows(path, "artists.dat", issues, encoding, FALLBACK_ENCODING):
        if not artist.strip().isdigit():
            issues.warn("malformed line", where, f"artist id {artist!r} is not a number")
        elif artist.strip() in seen:
            issues.warn("duplicate artist id (first kept)", where, artist.strip())
        else:
            seen.add(artist.strip())
            rows.append((artist.strip(), name))
    return pd.DataFrame(rows, columns=["item", "artist_name"])


@cache  # a few thousand distinct dates among the assignments
def _date_seconds(day, month, year):
    return datetime(int(year), int(month), int(day), tzinfo=timezone.utc).timestamp()


def read_tag_assignments(path, encoding, issues, progress):
    """user, item, timestamp (seconds), order (line number) of every tag assignment."""
    timestamped = path.name.startswith("user_taggedartists-timestamps")
    kind = "user_taggedartists-timestamps.dat" if timestamped else "user_taggedartists.dat"
    users, items, times, orders = [], [], [], []
    for where, number, fields in _rows(path, kind, issues, encoding, progress=progress):
        ids = _ids(where, issues, fields[0], fields[1])
        if ids is None:
            continue
        try:
            seconds = timestamp(fields[3]) / 1000 if timestamped else _date_seconds(*fields[3:6])
        except (ValueError, OverflowError) as error:
            issues.warn("malformed line", where, f"bad date or timestamp: {error}")
            continue
        users.append(ids[0])
        items.append(ids[1])
        times.append(seconds)
        orders.append(number)
    return pd.DataFrame({"user": users, "item": items, "timestamp": times, "order": orders})


def read_listens(path, encoding, issues):
    rows = []
    for where, number, (user, artist, _weight) in _rows(path, "user_artists.dat", issues, encoding):
        ids = _ids(where, issues, user, artist)
        if ids is not None:
            rows.append((*ids, number))
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
