"""Where this package's files and RecBole's embedded data live, what a name that becomes a path may be, and how a
text file the user names is read."""

import re
from pathlib import Path

import recbole

from recbole_ilora.errors import ConfigurationError

PACKAGE_DIR = Path(__file__).resolve().parent

# A source checkout or editable install keeps properties/ beside the package (the project layout);
# a wheel install carries a copy inside the package (setup.py maps it there).
PROPERTIES_DIR = next(
    path for path in (PACKAGE_DIR.parent / "properties", PACKAGE_DIR / "properties") if path.is_dir()
)

# Atomic files shipped inside the recbole wheel: ml-100k with titles, usable offline.
EMBEDDED_DATASETS_DIR = Path(recbole.__file__).resolve().parent / "dataset_example"

NAME_CHARACTERS = re.compile(r"[A-Za-z0-9._-]*")
# A name's file names add a suffix or two (".train.inter", "-seed2020-HASH.json") within a file system's 255 bytes.
MAX_NAME_LENGTH = 100


def check_plain_name(key, value):
    """A value that becomes part of a file or folder name (dataset, protocol, benchmark file parts) is a plain name,
    whichever layer set it: no separators, no ``..``, so that it cannot point outside its folder."""
    if not isinstance(value, str):
        wrong = "not text"
    elif not value:
        wrong = "empty"
    elif not NAME_CHARACTERS.fullmatch(value):
        wrong = f"{next(c for c in value if not NAME_CHARACTERS.fullmatch(c))!r} is not one of those characters"
    elif not value[0].isalnum():
        wrong = "it must start with a letter or digit (a leading '.' hides a file, '-' reads as an option)"
    elif ".." in value:
        wrong = "'..' may not appear in it"
    elif len(value) > MAX_NAME_LENGTH:
        wrong = f"it has {len(value)} characters, above {MAX_NAME_LENGTH} (file names built from it must fit)"
    else:
        return
    shown = value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "..."
    raise ConfigurationError(f"{key} must be a plain name (letters, digits, '.', '_', '-'; no '/' or '..'), got "
                             f"{shown!r}: {wrong}.")


def read_user_text(what, path):
    """The UTF-8 text of a file the user names (``what``: its option, e.g. ``--notes``); a missing path, a folder or
    a file that is not UTF-8 text is a ``ConfigurationError`` saying which (not 'not found', or a traceback)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigurationError(f"{what} {path} is a folder; name a UTF-8 text file.")
    if not path.is_file():
        raise ConfigurationError(f"{what} {path} does not exist; name an existing UTF-8 text file.")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigurationError(f"{what} {path} is not UTF-8 text (line {line}: {error.reason} at byte "
                                 f"{error.start}); save it as UTF-8.") from None
