"""Data side: where atomic files live, checks before training, the split and loaders, the fixed evaluation
candidates and item titles."""

import importlib
from functools import lru_cache
from logging import getLogger

from recbole.utils import ModelType

from recbole_ilora.compat import PandasCopyOnWriteDataset, PandasCopyOnWriteSequentialDataset
from recbole_ilora.data.location import resolve_data_path
from recbole_ilora.data.preparation import candidates_fingerprint, data_preparation, evaluated_user_tokens
from recbole_ilora.data.validation import check_atomic_files, check_loaded_dataset


_DATASET_CLASSES = {ModelType.SEQUENTIAL: "SequentialDataset", ModelType.KNOWLEDGE: "KnowledgeBasedDataset"}


@lru_cache(maxsize=None)
def _dataset_class(name):
    """RecBole's dataset class ``name`` with the pandas 3 fixes of ``compat`` mixed in."""
    recbole_class = getattr(importlib.import_module("recbole.data.dataset"), name)
    fixes = PandasCopyOnWriteSequentialDataset if name == "SequentialDataset" else PandasCopyOnWriteDataset
    return type(name, (fixes, recbole_class), {"__module__": __name__, "__doc__": recbole_class.__doc__})


def create_dataset(config):
    """RecBole's ``create_dataset``: the model's own dataset class if RecBole has one, else its model type's. Unlike
    RecBole's, it never unpickles a dataset saved by an earlier run (``save_dataset``): a pickle can run code, and
    rebuilding from the atomic files takes seconds."""
    module = importlib.import_module("recbole.data.dataset")
    name = f"{config['model']}Dataset"
    if not hasattr(module, name):
        name = _DATASET_CLASSES.get(config["MODEL_TYPE"], "Dataset")
    if config["dataset_save_path"]:
        getLogger().warning(f"dataset_save_path {config['dataset_save_path']} is not loaded: this package rebuilds "
                            f"datasets from their atomic files rather than unpickling them.")
    dataset = _dataset_class(name)(config)
    if config["save_dataset"]:
        dataset.save()
    return dataset


def load_dataset(config):
    """RecBole's dataset for ``config``, after checking its files, and checked once loaded."""
    check_atomic_files(config)
    dataset = create_dataset(config)
    check_loaded_dataset(config, dataset)
    return dataset


__all__ = ["resolve_data_path", "create_dataset", "load_dataset", "data_preparation", "candidates_fingerprint", "evaluated_user_tokens"]
