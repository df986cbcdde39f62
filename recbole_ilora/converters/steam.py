"""Steam (Kang & McAuley): reviews as time-ordered sequences, game names as titles -> ``steam.inter`` / ``.item``.

Interactions come from ``steam_reviews.json.gz`` (the SASRec paper's file: ``username``, ``product_id``, ``date``)
or, failing that, ``australian_user_reviews.json.gz`` (``user_id``, ``reviews: [{item_id, posted}]``; a review
dated without a year, "Posted July 15.", cannot be placed in time and is skipped, counted). One interaction per
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
from recbole_ilora.converters.rawfiles import parse_lines

NAME = "steam"
SUMMARY = "Steam (Kang & McAuley): steam_reviews.json.gz or australian_user_reviews.json.gz + steam_games.json.gz"
ENCODING = "utf-8"
GAMES = "steam_games.json"
REVIEW_FILES = ("steam_reviews.json", "australian_user_reviews.json")
POSTED = re.compile(r"Posted\s+([A-Za-z]+)\s+(\d{1,2})(?:,\s*(\d{4}))?")


def add_arguments(group):
    group.add_argument("--reviews", default=None, choices=REVIEW_FILES,
                       help="interactions file (default: steam_reviews.json if present, else "
                            "australian_user_reviews.json; plain or .gz)")


def _dicts(path, issues, encoding, progress=False):
    """``(where, order, dict)`` per line that is a Python dict literal (or JSON); others count as malformed."""
    def record(text, where, _first):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
            try:  # a JSON-lines re-export of the same data (true / false / null) is fine too
                value = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
                issues.warn("malformed line", where, f"neither a Python dict literal nor JSON: {error}")
                return None
        if not isinstance(value, dict):
            issues.warn("malformed line", where, f"a {type(value).__name__}, not a dict")
            return None
        return value

    return parse_lines(path, encoding, issues, record, progress=progress)


def read_games(path, encoding, issues):
    rows, names = [], {}
    for where, _, game in _dicts(path, issues, encoding):
        game_id = str(game.get("id", "")).strip()
        name = game.get("app_name") or game.get("title")
        if not game_id:
            issues.warn("game without an id (skipped)", where)
        elif game_id in names:
            if names[game_id] != name:
                issues.warn("duplicate game id with another name (first kept)", where, game_id)
        else:
            names[game_id] = name
            rows.append((game_id, name if isinstance(name, str) else None))
    return pd.DataFrame(rows, columns=["item", "app_name"])


def _day(text):
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()


def _posted(text):
    """Seconds of a "Posted November 5, 2011." date; None when it has no year."""
    match = POSTED.search(text or "")
    if match is None:
        raise ValueError(f"unrecognised date {text!r}")
    month, day, year = match.groups()
    if year is None:
        return None
    return datetime.strptime(f"{year} {month} {day}", "%Y %B %d").replace(tzinfo=timezone.utc).timestamp()


def read_steam_reviews(path, encoding, issues, progress):
    rows = []
    for where, number, review in _dicts(path, issues, encoding, progress):
        user, item = review.get("username"), review.get("product_id")
        if not isinstance(user, str) or item is None:
            issues.warn("review without username or product_id (skipped)", where)
            continue
        try:
            seconds = _day(str(review.get("date")))
        except ValueError:
            issues.warn("review with a bad date (skipped)", where, f"date {review.get('date')!r}, expected YYYY-MM-DD")
            continue
        rows.append((user, str(item).strip(), seconds, number))
    return pd.DataFrame(rows, columns=["user", "item", "timestamp", "order"])


def read_australian_reviews(path, encoding, issues, progress):
    rows = []
    for where, number, record in _dicts(path, issues, encoding, progress):
        user, reviews = record.get("user_id"), record.get("reviews")
        if not isinstance(user, str) or not isinstance(reviews, list):
            issues.warn("record without user_id or reviews (skipped)", where)
            continue
        for index, review in enumerate(reviews):
            item = review.get("item_id") if isinstance(review, dict) else None
            try:
                seconds = _posted(review.get("posted")) if item is not None else None
            except ValueError as error:
                issues.warn("review with a bad date (skipped)", where, str(error))
                continue
            if item is None:
                issues.warn("review without item_id (skipped)", where)
            elif seconds is None:
                issues.warn("review dated without a year (skipped: cannot be placed in time)", where)
            else:
                rows.append((user, str(item).strip(), seconds, number * 1000 + index))
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
