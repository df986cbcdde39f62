"""Model lookup: this package first, then RecBole (the RecBole-GNN pattern); trainers are the runners' choice.

RecBole's own ``get_model`` only searches ``recbole.model.*`` by file name, so models defined here are
registered by name below and imported lazily (the LLM stack is heavy to import).
"""

import difflib
import importlib

from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import get_model as recbole_get_model

from recbole_ilora import compat  # noqa: F401 (its shims apply on import: before any RecBole model runs)
from recbole_ilora.errors import ConfigurationError

# Model name -> module defining a class of that name.
OWN_MODELS = {
    "iLoRA": "recbole_ilora.model.ilora",
    "LoRARec": "recbole_ilora.model.lorarec",
    "TALLRec": "recbole_ilora.model.tallrec",
}

_RECBOLE_MODEL_PACKAGES = (
    "general_recommender",
    "context_aware_recommender",
    "sequential_recommender",
    "knowledge_aware_recommender",
    "exlib_recommender",
)


def known_model_names():
    """Every model name ``get_model`` accepts: this package's, then RecBole's."""
    names = list(OWN_MODELS)
    for package in _RECBOLE_MODEL_PACKAGES:
        try:
            module = importlib.import_module(f"recbole.model.{package}")
        except ImportError:  # exlib models need optional libraries (xgboost, lightgbm)
            continue
        names += [
            name for name, obj in vars(module).items()
            if isinstance(obj, type) and issubclass(obj, AbstractRecommender) and name not in names
        ]
    return names


def get_model(model_name):
    """The model class called ``model_name``, from this package or else from RecBole."""
    if model_name in OWN_MODELS:
        return getattr(importlib.import_module(OWN_MODELS[model_name]), model_name)
    try:
        return recbole_get_model(model_name)
    # AttributeError: right file, wrong case ("sasrec"); ImportError: RecBole's lookup of an unknown name imports
    # its exlib package, which needs optional libraries (lightgbm, xgboost)
    except (ValueError, AttributeError, ImportError):
        names = known_model_names()
        lowered = {name.lower(): name for name in names}
        close = [lowered[m] for m in difflib.get_close_matches(model_name.lower(), lowered, n=5, cutoff=0.6)]
        hint = f"Did you mean: {', '.join(close)}?" if close else f"Known models: {', '.join(sorted(names))}."
        raise ConfigurationError(f"Unknown model '{model_name}' (--model). {hint}") from None
