"""Where this package's files and RecBole's embedded data live."""

from pathlib import Path

import recbole

PACKAGE_DIR = Path(__file__).resolve().parent

# A source checkout or editable install keeps properties/ beside the package (the project layout);
# a wheel install carries a copy inside the package (setup.py maps it there).
PROPERTIES_DIR = next(
    path for path in (PACKAGE_DIR.parent / "properties", PACKAGE_DIR / "properties") if path.is_dir()
)

# Atomic files shipped inside the recbole wheel: ml-100k with titles, usable offline.
EMBEDDED_DATASETS_DIR = Path(recbole.__file__).resolve().parent / "dataset_example"
