"""Where a dataset's atomic files are: the user's data_path, or the copy embedded in the recbole wheel.

RecBole itself always reads ml-100k from its wheel and, for any other missing dataset, starts a download that
fails (or hangs) offline. Here a user's own ``dataset/ml-100k/`` wins over the embedded copy, and a missing
dataset fails at once with a message that says how to produce it.
"""

from pathlib import Path

from recbole_ilora.errors import DatasetNotFoundError
from recbole_ilora.paths import EMBEDDED_DATASETS_DIR


def _has_atomic_files(folder, dataset):
    return (folder / f"{dataset}.inter").is_file()


def resolve_data_path(dataset, data_root, allow_download=False):
    """Return the folder holding ``<dataset>.inter`` (and its other atomic files).

    Args:
        dataset: dataset name, e.g. ``ml-100k``.
        data_root: the config's ``data_path`` (the folder that holds one sub-folder per dataset).
        allow_download: leave a missing dataset to RecBole's own download (needs network).
    """
    folder = Path(data_root).expanduser().resolve() / dataset
    if _has_atomic_files(folder, dataset):
        return str(folder)
    embedded = EMBEDDED_DATASETS_DIR / dataset
    if _has_atomic_files(embedded, dataset):
        return str(embedded)
    if allow_download:
        return str(folder)
    raise DatasetNotFoundError(
        f"Dataset '{dataset}' not found: expected the atomic file {folder / (dataset + '.inter')} "
        f"(set by `data_path`, currently {data_root!r}). Produce it from the raw files with "
        f"`python run_scripts/prepare_dataset.py {dataset} --raw PATH --out {data_root}`, point `--data_path` at "
        f"a folder that holds {dataset}/{dataset}.inter, or, with network access, pass `--allow_download=True` "
        f"to let RecBole download its own copy. Only ml-100k is available offline without preparation."
    )
