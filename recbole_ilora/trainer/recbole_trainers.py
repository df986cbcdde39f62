"""RecBole's own trainers, each with this package's run recording (``RecBoleCheckpoints``): one declared class per
RecBole trainer that ``recbole.utils.get_trainer`` can choose. RecBole's classes keep their names and behaviour;
``recorded_trainer`` maps RecBole's choice for a model to its recorded class here."""

from recbole import trainer as recbole_trainers
from recbole.utils import get_trainer as recbole_get_trainer

from recbole_ilora.errors import ConfigurationError
from recbole_ilora.trainer.recording import RecBoleCheckpoints


class RecordedTrainer(RecBoleCheckpoints, recbole_trainers.Trainer):
    """RecBole's ``Trainer`` (most general, sequential and context-aware models), recorded."""


class RecordedTraditionalTrainer(RecBoleCheckpoints, recbole_trainers.TraditionalTrainer):
    """RecBole's ``TraditionalTrainer`` (Pop, ItemKNN, ...), recorded."""


class RecordedKGTrainer(RecBoleCheckpoints, recbole_trainers.KGTrainer):
    """RecBole's ``KGTrainer`` (knowledge-aware models), recorded."""


class RecordedKGATTrainer(RecBoleCheckpoints, recbole_trainers.KGATTrainer):
    """RecBole's ``KGATTrainer``, recorded."""


class RecordedPretrainTrainer(RecBoleCheckpoints, recbole_trainers.PretrainTrainer):
    """RecBole's ``PretrainTrainer``, recorded."""


class RecordedS3RecTrainer(RecBoleCheckpoints, recbole_trainers.S3RecTrainer):
    """RecBole's ``S3RecTrainer``, recorded."""


class RecordedMKRTrainer(RecBoleCheckpoints, recbole_trainers.MKRTrainer):
    """RecBole's ``MKRTrainer``, recorded."""


class RecordedRaCTTrainer(RecBoleCheckpoints, recbole_trainers.RaCTTrainer):
    """RecBole's ``RaCTTrainer``, recorded."""


class RecordedRecVAETrainer(RecBoleCheckpoints, recbole_trainers.RecVAETrainer):
    """RecBole's ``RecVAETrainer``, recorded."""


class RecordedNCLTrainer(RecBoleCheckpoints, recbole_trainers.NCLTrainer):
    """RecBole's ``NCLTrainer``, recorded."""


# RecBole's trainer class -> its recorded class. RecBole's decision-tree trainers (XGBoost, LightGBM) do not derive
# from ``Trainer`` and have no epochs to record: they are refused.
RECORDED_TRAINERS = {cls.__bases__[-1]: cls for cls in (  # the last base is RecBole's
    RecordedTrainer, RecordedTraditionalTrainer, RecordedKGTrainer, RecordedKGATTrainer, RecordedPretrainTrainer,
    RecordedS3RecTrainer, RecordedMKRTrainer, RecordedRaCTTrainer, RecordedRecVAETrainer, RecordedNCLTrainer)}


def recorded_trainer(model_type, model_name):
    """The recorded trainer class of RecBole's trainer for ``model_name``."""
    base = recbole_get_trainer(model_type, model_name)
    if base not in RECORDED_TRAINERS:
        raise ConfigurationError(
            f"{model_name} trains with RecBole's {base.__name__}, which this package does not run (it records "
            f"epochs, checkpoints and per-user ranks of Trainer-based runs only); use RecBole's own run_recbole.")
    return RECORDED_TRAINERS[base]
