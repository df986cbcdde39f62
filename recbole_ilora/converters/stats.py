"""Dataset statistics: after a conversion, or for any folder of atomic files (``prepare_dataset --stats``).

A leave-one-out dataset (``NAME.inter``) is described by users, items, interactions, sparsity and sequence
lengths; a pre-split one (``NAME.train.inter`` ...: protocol llara) by its samples per part, their history lengths
and the items they reference, or, for plain interactions, by the leave-one-out statistics per part and for all
parts together. A folder's files are first checked as run_recbole checks them.
"""

from pathlib import Path

import pandas as pd
from tabulate import tabulate

from recbole_ilora.data.validation import check_atomic_files
from recbole_ilora.errors import DataError, RawDataError

SPLIT_PARTS = ("train", "valid", "test")


def sequence_stats(users, items):
    """Statistics of interactions given as two equal-length sequences of user and item ids; sparsity is the share of
    (user, item) pairs without an interaction (a pair met twice counts once)."""
    users, items = pd.Series(users), pd.Series(items)
    n_users, n_items, n_inter = int(users.nunique()), int(items.nunique()), len(users)
    n_pairs = len(pd.MultiIndex.from_arrays([users, items]).unique())
    lengths = users.value_counts()
    return {
        "users": n_users,
        "items": n_items,
        "interactions": n_inter,
        "sparsity": 1 - n_pairs / (n_users * n_items) if n_users and n_items else float("nan"),
        "mean seq length": n_inter / n_users if n_users else float("nan"),
        "min / max seq length": f"{lengths.min()} / {lengths.max()}" if n_users else "-",
    }


def split_stats(part, histories, targets, catalogue_items):
    """Statistics of one part of a pre-split dataset: ``histories`` (lists of item ids) and ``targets``."""
    lengths = pd.Series([len(history) for history in histories], dtype="int64")
    referenced = set(targets).union(*map(set, histories)) if len(targets) else set()
    return {
        "part": part,
        "samples (users)": len(targets),
        "mean history length": float(lengths.mean()) if len(lengths) else float("nan"),
        "min / max history": f"{lengths.min()} / {lengths.max()}" if len(lengths) else "-",
        "items referenced": len(referenced),
        "items in catalogue": catalogue_items,
    }


def format_stats(name, stats):
    """A table (``tabulate``) of one statistics dict, or of several (one per part of a pre-split dataset)."""
    rows = stats if isinstance(stats, list) else [{"dataset": name, **stats}]
    formatted = [{key: _format(key, value) for key, value in row.items()} for row in rows]
    return tabulate(formatted, headers="keys", tablefmt="github", disable_numparse=True)


def _format(key, value):
    if key == "sparsity":
        return f"{100 * value:.4f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _read(path):
    """An atomic file as strings, read the way RecBole reads it (tab-separated, CSV quoting)."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [column.split(":")[0] for column in frame.columns]
    return frame


def _check(folder, name, parts):
    """run_recbole's checks of the atomic files (a malformed line: a ``DataError`` naming file and line)."""
    check_atomic_files({"data_path": str(folder), "dataset": name, "benchmark_filename": parts, "encoding": "utf-8",
                        "field_separator": "\t", "seq_separator": " ", "load_col": None, "USER_ID_FIELD": "user_id",
                        "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp", "item_text_field": None,
                        "eval_args": {}, "strict_data": False,
                        "rm_dup_inter": "first"})  # statistics describe repeats; they are run_recbole's to refuse


def _pre_split_stats(folder, name):
    """Statistics of a pre-split dataset: per part, of its samples (``item_id_list``, as llara-ref writes them) or of
    its plain interactions (then also of all parts together, the users' whole sequences)."""
    parts = {part: _read(folder / f"{name}.{part}.inter") for part in SPLIT_PARTS}
    samples = {part for part, inter in parts.items() if "item_id_list" in inter}
    if not samples:
        rows = [{"part": part, **sequence_stats(inter["user_id"], inter["item_id"])} for part, inter in parts.items()]
        whole = pd.concat(parts.values())
        return rows + [{"part": "all", **sequence_stats(whole["user_id"], whole["item_id"])}]
    if samples != set(SPLIT_PARTS):
        plain = next(part for part in SPLIT_PARTS if part not in samples)
        raise DataError(f"{folder / f'{name}.{plain}.inter'} has no item_id_list column (each sample's history), but "
                        f"{folder / f'{name}.{min(samples)}.inter'} has: the parts of a pre-split dataset are all "
                        f"samples (user_id, item_id_list, item_id, as prepare_dataset llara-ref writes them) or all "
                        f"plain interactions.")
    item_file = folder / f"{name}.item"
    catalogue = len(_read(item_file)) if item_file.is_file() else 0
    return [split_stats(part, [h.split() for h in inter["item_id_list"]], list(inter["item_id"]), catalogue)
            for part, inter in parts.items()]


def folder_stats(folder):
    """Statistics of the atomic files in ``folder`` (named after the dataset, as RecBole expects)."""
    folder = Path(folder)
    name = folder.name
    if (folder / f"{name}.inter").is_file():
        _check(folder, name, None)
        inter = _read(folder / f"{name}.inter")
        return sequence_stats(inter["user_id"], inter["item_id"])
    if all((folder / f"{name}.{part}.inter").is_file() for part in SPLIT_PARTS):
        _check(folder, name, list(SPLIT_PARTS))
        return _pre_split_stats(folder, name)
    raise RawDataError(
        f"--stats {folder}: no {name}.inter nor {name}.train.inter / .valid.inter / .test.inter there; pass a "
        f"dataset folder such as dataset/ml-1m (the folder is named after the dataset)."
    )
