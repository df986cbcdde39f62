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

PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_plain_name(key, value):
    """A value that becomes part of a file or folder name (dataset, protocol, benchmark file parts) is a plain name,
    whichever layer set it: no separators, no ``..``, so that it cannot point outside its folder."""
    if not isinstance(value, str) or not PLAIN_NAME.fullmatch(value) or ".." in value:
        raise ConfigurationError(f"{key} must be a plain name (letters, digits, '.', '_', '-'; no '/' or '..'), got "
                                 f"{value!r}.")


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
