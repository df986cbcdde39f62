"""Data side: where atomic files live, checks before training, the split and loaders, the fixed evaluation
candidates and item titles."""

from recbole.data import create_dataset

from recbole_ilora.data.location import resolve_data_path
from recbole_ilora.data.preparation import candidates_fingerprint, data_preparation, evaluated_user_tokens
from recbole_ilora.data.validation import check_atomic_files, check_loaded_dataset


def load_dataset(config):
    """RecBole's dataset for ``config``, after checking its files, and checked once loaded."""
    check_atomic_files(config)
    dataset = create_dataset(config)
    check_loaded_dataset(config, dataset)
    return dataset


__all__ = ["resolve_data_path", "load_dataset", "data_preparation", "candidates_fingerprint", "evaluated_user_tokens"]
