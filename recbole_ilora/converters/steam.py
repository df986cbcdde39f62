"""Steam (Kang & McAuley): reviews as time-ordered sequences, game names as titles -> ``steam.inter`` / ``.item``.

Interactions come from ``steam_reviews.json.gz`` (the SASRec paper's file: ``username``, ``product_id``, ``date``)
or, failing that, ``australian_user_reviews.json.gz`` (``user_id``, ``reviews: [{item_id, posted}]``, months whole
or cut: "Posted June 19, 2012." or "Posted Jun 19, 2012."; a review dated without a year, "Posted July 15.", cannot
be placed in time and is skipped, counted). One interaction per
(user, game), at the earliest review; same-day reviews keep their file order. Titles: ``app_name`` of
``steam_games.json.gz`` (``title`` where ``app_name`` is absent), field ``app_name``. All three files hold one
Python dict literal per line: parsed with ``ast.literal_eval`` (literals only), never ``eval``.
"""

import ast
import json
import re
from datetime import datetime, timezone

import pandas as pd

from recbole_ilora.converters.pipeline import Source, to_sequences
from recbole_ilora.converters.rawfiles import BadLine, Tally, parse_lines

NAME = "steam"
SUMMARY = "Steam (Kang & McAuley): steam_reviews.json.gz or australian_user_reviews.json.gz + steam_games.json.gz"
ENCODING = "utf-8"
GAMES = "steam_games.json"
REVIEW_FILES = ("steam_reviews.json", "australian_user_reviews.json")
POSTED = re.compile(r"Posted\s+([A-Za-z]+)\s+(\d{1,2})(?:,\s*(\d{4}))?")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


def add_arguments(group):
    group.add_argument("--reviews", default=None, choices=REVIEW_FILES,
                       help="interactions file (default: steam_reviews.json if present, else "
                            "australian_user_reviews.json; plain or .gz)")


def _dicts(path, issues, encoding, record, progress=False):
    """``(where, order, record(dict))`` per line that is a Python dict literal (or JSON); other lines are malformed,
    and ``record`` raises ``BadLine`` for a dict to skip."""
    def parse(text, where, _first):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
            try:  # a JSON-lines re-export of the same data (true / false / null) is fine too
                value = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
                raise BadLine(f"neither a Python dict literal nor JSON: {error}") from None
        if not isinstance(value, dict):
            raise BadLine(f"a {type(value).__name__}, not a dict")
        return record(value)

    return parse_lines(path, encoding, issues, parse, progress=progress)


def _game(game):
    game_id = str(game.get("id", "")).strip()
    if not game_id:
        raise BadLine("", "game without an id (skipped)")
    return game_id, game.get("app_name") or game.get("title")


def read_games(path, encoding, issues):
    rows, names = [], {}
    for where, _, (game_id, name) in _dicts(path, issues, encoding, _game):
        if game_id in names:
            if names[game_id] != name:
                issues.warn("duplicate game id with another name (first kept)", where, game_id)
        else:
            names[game_id] = name
            rows.append((game_id, name if isinstance(name, str) else None))
    return pd.DataFrame(rows, columns=["item", "app_name"])


def _day(text):
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()


def _month(name):
    """1-12 of an English month name, whole or cut ("June", "Jun", "Sept"): Steam writes both."""
    for number, month in enumerate(MONTHS, start=1):
        if len(name) >= 3 and month.startswith(name.lower()):
            return number
    raise ValueError(f"unknown month {name!r}")


def _posted(text):
    """Seconds of a "Posted November 5, 2011." date; None when it has no year."""
    match = POSTED.search(text or "")
    if match is None:
        raise ValueError(f"unrecognised date {text!r}")
    month, day, year = match.groups()
    if year is None:
        return None
    return datetime(int(year), _month(month), int(day), tzinfo=timezone.utc).timestamp()


def _steam_review(review):
    """``(user, item, seconds)`` of a steam_reviews.json line."""
    user, item = review.get("username"), review.get("product_id")
    if not isinstance(user, str) or item is None:
        raise BadLine("", "review without username or product_id (skipped)")
    try:
        seconds = _day(str(review.get("date")))
    except ValueError:
        raise BadLine(f"date {review.get('date')!r}, expected YYYY-MM-DD", "review with a bad date (skipped)") \
            from None
    return user, str(item).strip(), seconds


def read_steam_reviews(path, encoding, issues, progress):
    rows = [(*review, number) for _, number, review in _dicts(path, issues, encoding, _steam_review, progress)]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp", "order"])


def _user_reviews(record):
    user, reviews = record.get("user_id"), record.get("reviews")
    if not isinstance(user, str) or not isinstance(reviews, list):
        raise BadLine("", "record without user_id or reviews (skipped)")
    return user, reviews


def read_australian_reviews(path, encoding, issues, progress):
    """One row per review; the reviews are tallied as lines are (``rawfiles.Tally``): a file whose reviews mostly
    cannot be read (dates in an unknown format) is an error."""
    rows, reviews_read = [], Tally(path, issues, unit="reviews")
    for where, number, (user, reviews) in _dicts(path, issues, encoding, _user_reviews, progress):
        for index, review in enumerate(reviews):
            item = review.get("item_id") if isinstance(review, dict) else None
            if item is None:
                reviews_read.skip("review without item_id (skipped)", where)
                continue
            try:
                seconds = _posted(review.get("posted"))
            except ValueError as error:
                reviews_read.skip("review with a bad date (skipped)", where, str(error))
                continue
            if seconds is None:
                issues.warn("review dated without a year (skipped: cannot be placed in time)", where)
            else:
                reviews_read.use()
                rows.append((user, str(item).strip(), seconds, number * 1000 + index))
    reviews_read.check()
    return pd.DataFrame(rows, columns=["user", "item", "timestamp", "order"])


def convert(raw, options, issues):
    encoding = options.encoding or ENCODING
    names = [options.reviews] if options.reviews else list(REVIEW_FILES)
    reviews_path = raw.find(*names, hint="Steam interactions: Kang & McAuley's steam_reviews.json.gz (SASRec's) or "
                                         "australian_user_reviews.json.gz; steam_games.json.gz holds titles only.")
    games_path = raw.find(GAMES, hint="Steam titles: Kang & McAuley's steam_games.json.gz.")
    games = read_games(games_path, encoding, issues)
    if reviews_path.name.startswith("australian"):
        reviews = read_australian_reviews(reviews_path, encoding, issues, options.progress)
    else:
        reviews = read_steam_reviews(reviews_path, encoding, issues, options.progress)
    raw_counts = {"reviews": len(reviews), "users": reviews["user"].nunique(), "reviewed games":
                  reviews["item"].nunique(), "games with metadata": len(games)}
    inter = reviews.sort_values(["timestamp", "order"], kind="stable").drop_duplicates(["user", "item"])
    raw_counts["(user, game) pairs"] = len(inter)
    source = Source(interactions=inter, items=games, text_column="app_name", raw_counts=raw_counts,
                    item_fields=[("item", "item_id", "token"), ("app_name", "app_name", "token")],
                    notes=[f"interactions from {reviews_path.name} (day resolution; same-day order = file order)"])
    converted = to_sequences(source, options, options.name or NAME)
    converted.raw_files = [reviews_path, games_path]
    return converted
