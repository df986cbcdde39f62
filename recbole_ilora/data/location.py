"""Where a dataset's atomic files are: the user's data_path, or the copy embedded in the recbole wheel.

RecBole itself always reads ml-100k from its wheel and, for any other missing dataset, starts a download that
fails (or hangs) offline. Here a user's own ``dataset/ml-100k/`` wins over the embedded copy, and a missing
dataset fails at once with a message that says how to produce it. A protocol with ``benchmark_filename`` (llara)
reads pre-split files ``<dataset>.<part>.inter`` instead of ``<dataset>.inter``; a dataset prepared for the other
kind of protocol fails with a message naming the protocol to use.
"""

from pathlib import Path

from recbole_ilora.errors import DatasetNotFoundError
from recbole_ilora.paths import EMBEDDED_DATASETS_DIR


def inter_files(dataset, benchmark_filename=None):
    """Names of a dataset's interaction files: ``<dataset>.inter``, or one per part of ``benchmark_filename``."""
    return [f"{dataset}.{part}.inter" for part in benchmark_filename] if benchmark_filename else [f"{dataset}.inter"]


def _has_atomic_files(folder, dataset, benchmark_filename=None):
    return all((folder / name).exists() for name in inter_files(dataset, benchmark_filename))  # a folder: named later


def _prepare_command(dataset, data_root):
    if dataset.startswith("llara-"):  # the papers' splits: one converter, one folder per variant
        return f"prepare_dataset llara-ref --raw PATH/{dataset[len('llara-'):]} --out {data_root}"
    return f"prepare_dataset {dataset} --raw PATH --out {data_root}"


def _dataset_folder(data_root, dataset):
    """``data_root/dataset`` as an absolute path; a data_path the file system cannot follow (a link leading back to
    itself, a name too long) is named here, not a traceback from the first look-up."""
    try:
        folder = Path(data_root).expanduser().resolve() / dataset
        folder.exists()
    except (RuntimeError, OSError) as error:  # RuntimeError: a link loop, before Python 3.13
        raise DatasetNotFoundError(f"data_path {str(data_root)!r} cannot be followed ({error}): a link that leads "
                                   f"back to itself, or a name too long; point data_path at the folder that holds "
                                   f"the dataset folders.") from None
    return folder


def resolve_data_path(dataset, data_root, allow_download=False, benchmark_filename=None, protocol=None):
    """Return the folder holding ``<dataset>.inter`` (and its other atomic files).

    Args:
        dataset: dataset name, e.g. ``ml-100k``.
        data_root: the config's ``data_path`` (the folder that holds one sub-folder per dataset).
        allow_download: leave a missing dataset to RecBole's own download (needs network).
        benchmark_filename: the config's ``benchmark_filename`` (e.g. ``[train, valid, test]``): the dataset must
            then hold ``<dataset>.train.inter`` etc. instead of ``<dataset>.inter``.
        protocol: the protocol whose YAML set ``benchmark_filename``; None where the user's settings set it. The
            message for a dataset of the other kind names what to change: the protocol, or benchmark_filename.
    """
    folder = _dataset_folder(data_root, dataset)
    if _has_atomic_files(folder, dataset, benchmark_filename):
        return str(folder)
    embedded = EMBEDDED_DATASETS_DIR / dataset
    if _has_atomic_files(embedded, dataset, benchmark_filename):
        return str(embedded)
    if benchmark_filename and any(_has_atomic_files(place, dataset) for place in (folder, embedded)):
        if protocol:
            reader = f"the protocol {protocol!r}"
            fix = "Run it with a leave-one-out protocol (--protocol=candidates20 or full)"
        else:
            reader = f"benchmark_filename={benchmark_filename}"
            fix = f"Leave benchmark_filename unset to have the protocol split {dataset}.inter"
        raise DatasetNotFoundError(
            f"Dataset '{dataset}' has one interaction file ({dataset}.inter), but {reader} reads a pre-split dataset "
            f"({', '.join(inter_files(dataset, benchmark_filename))}; benchmark_filename). {fix}, or prepare the "
            f"papers' split with `prepare_dataset llara-ref --raw PATH`."
        )
    if not benchmark_filename and _has_atomic_files(folder, dataset, ["train", "valid", "test"]):
        raise DatasetNotFoundError(
            f"Dataset '{dataset}' is pre-split ({dataset}.train.inter, .valid.inter, .test.inter in {folder}) and has "
            f"no {dataset}.inter for a leave-one-out protocol: run it with --protocol=llara."
        )
    if allow_download:
        return str(folder)
    expected = " and ".join(str(folder / name) for name in inter_files(dataset, benchmark_filename))
    raise DatasetNotFoundError(
        f"Dataset '{dataset}' not found: expected the atomic file {expected} "
        f"(set by `data_path`, currently {data_root!r}). Produce it from the raw files with "
        f"`{_prepare_command(dataset, data_root)}`, point `--data_path` at "
        f"a folder that holds {dataset}/{inter_files(dataset, benchmark_filename)[0]}, or, with network access, pass "
        f"`--allow_download=True` to let RecBole download its own copy. Only ml-100k is available offline without "
        f"preparation."
    )
