"""Data side: where atomic files live, checks before training, the split and loaders, the fixed evaluation
candidates and item titles."""

from recbole.utils import ModelType

from recbole_ilora.data.datasets import DATASET_CLASSES
from recbole_ilora.data.location import resolve_data_path
from recbole_ilora.data.preparation import candidates_fingerprint, data_preparation, evaluated_user_tokens
from recbole_ilora.data.validation import check_atomic_files, check_loaded_dataset
from recbole_ilora.errors import DataError

_DATASET_BY_TYPE = {ModelType.SEQUENTIAL: "SequentialDataset", ModelType.KNOWLEDGE: "KnowledgeBasedDataset"}


def dataset_class(config):
    """RecBole's choice of dataset class (the model's own ``<Model>Dataset`` if RecBole has one, else its model
    type's), as this package's pandas-3 safe class of that name."""
    name = f"{config['model']}Dataset"
    if name not in DATASET_CLASSES:
        name = _DATASET_BY_TYPE.get(config["MODEL_TYPE"], "Dataset")
    return DATASET_CLASSES[name]


def create_dataset(config):
    """RecBole's ``create_dataset``. Unlike RecBole's, it never unpickles a dataset saved by an earlier run
    (``dataset_save_path``, or a file of the default name in ``checkpoint_dir``): a pickle can run code, and
    rebuilding from the atomic files takes seconds (the config refuses the keys that save or load pickles)."""
    return dataset_class(config)(config)


def load_dataset(config):
    """RecBole's dataset for ``config``, after checking its files, and checked once loaded."""
    check_atomic_files(config)
    try:
        dataset = create_dataset(config)
    except ValueError as error:
        if "filtering" in str(error):
            raise DataError(f"Dataset '{config['dataset']}': RecBole's filters left no users or items ({error}); "
                            f"loosen user_inter_num_interval, item_inter_num_interval or val_interval.") from None
        raise DataError(f"Dataset '{config['dataset']}' cannot be built by RecBole: {error}") from None
    check_loaded_dataset(config, dataset)
    return dataset


__all__ = ["resolve_data_path", "dataset_class", "create_dataset", "load_dataset", "data_preparation",
           "candidates_fingerprint", "evaluated_user_tokens"]
