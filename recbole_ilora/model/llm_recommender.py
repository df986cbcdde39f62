"""The contract between the LLM recommenders and the code that runs them (``quick_start.run``, ``iLoRATrainer``).

A RecBole model is run the RecBole way. An ``LLMRecommender`` is a RecBole ``SequentialRecommender`` (so RecBole's
loaders and evaluator serve it unchanged) that the run and the trainer use only through the methods below. It
places itself on ``config["device"]`` (a quantized backbone cannot be moved with ``.to()`` after loading).

before any work (class methods: no data, no backbone needed)
    ``validate_config``, ``validate_dataset``, ``required_runs``
training
    ``optimizer_groups``, ``calculate_loss(interaction, step)``, ``training_statistics``,
    ``trainable_state_dict`` / ``load_trainable_state_dict`` and RecBole's ``other_parameter`` /
    ``load_other_parameter`` (what checkpoints hold)
evaluation
    ``begin_evaluation`` / ``end_evaluation``, RecBole's ``predict`` / ``full_sort_predict``, ``generate_answers``,
    ``evaluation_records`` / ``add_evaluation_records`` (per-user records of a pass scored by several processes)
results
    ``save_adapter``, ``result_extras``
"""

from dataclasses import dataclass

from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType


@dataclass(frozen=True)
class TrainingStep:
    """Where a training batch sits in the run. A model keys its random draws on it (and on the samples), not on a
    stateful stream: so the draws do not depend on how batches are split over processes or on a resume."""

    epoch: int = 0
    step: int = 0  # optimizer steps done before this batch
    total_steps: int = 1

    @property
    def progress(self):
        """Share of the optimizer steps already done."""
        return self.step / self.total_steps


class LLMRecommender(SequentialRecommender):
    """Base of the LLM recommenders: what a run and ``iLoRATrainer`` may call (see the module docstring)."""

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._replay = self._on_users_scored = None  # see begin_evaluation
        self._records = {}

    # ----- before any work -----

    @classmethod
    def validate_config(cls, config):
        """Raise ``ConfigurationError`` for a value of this model's keys that cannot work, before any data is read
        or prerequisite run is trained."""

    @classmethod
    def validate_dataset(cls, config, dataset):
        """Raise ``DataError`` for data this model cannot use (``dataset``: RecBole's, filtered), before any
        prerequisite run is trained."""

    @classmethod
    def required_runs(cls, config):
        """Runs that must exist before this one: ``{config key: (model name, config_dict)}``. The run reuses a
        finished one with the same config hash or trains it first, and stores its checkpoint under the key."""
        return {}

    # ----- training -----

    def optimizer_groups(self):
        """``{group: [parameters]}`` of the trainable parameters; the trainer gives each group the learning rate
        ``<group>_learning_rate`` when that key is set, else ``learning_rate``."""
        raise NotImplementedError

    def calculate_loss(self, interaction, step=None):
        """The training loss of a batch at ``step`` (a ``TrainingStep``; None: the end of a one-epoch run)."""
        raise NotImplementedError

    def training_statistics(self):
        """Scalars about the last ``calculate_loss`` that the trainer logs (tensorboard), e.g. its loss parts."""
        return {}

    def trainable_state_dict(self):
        """The trained weights only: what checkpoints hold."""
        return {name: param.detach().clone() for name, param in self.named_parameters() if param.requires_grad}

    def load_trainable_state_dict(self, state):
        expected = {name for name, param in self.named_parameters() if param.requires_grad}
        if set(state) != expected:
            missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(f"Checkpoint does not match this model's trainable weights: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}; was it written with another config?")
        self.load_state_dict(state, strict=False)

    # ----- evaluation -----

    def begin_evaluation(self, on_users_scored=None, replay=None):
        """Called before each evaluation pass: forget the previous pass's records (unless ``replay`` is given);
        ``on_users_scored(n)``, if given, is called as users are scored (the trainer's progress bar). With
        ``replay``, a list of score tensors, ``predict`` / ``full_sort_predict`` return them in turn instead of
        computing (scores that several processes computed and gathered)."""
        self._replay = iter(replay) if replay is not None else None
        self._on_users_scored = on_users_scored
        if replay is None:
            self._records = {}

    def end_evaluation(self):
        self._replay = self._on_users_scored = None

    def _replayed(self):
        """The next replayed scores, or None when this pass computes its own."""
        return next(self._replay) if self._replay is not None else None

    def _scored(self, users, records):
        """Note ``records`` (``{internal user id: record}``) of users just scored, and report their number."""
        self._records.update(records)
        if self._on_users_scored is not None:
            self._on_users_scored(len(users))

    def evaluation_records(self):
        """``{internal user id: record}`` of the current evaluation pass (e.g. iLoRA's gate weights)."""
        return dict(self._records)

    def add_evaluation_records(self, records):
        self._records.update(records)

    def generate_answers(self, interaction, full_ranking, max_new_tokens):
        """Greedy answers for an evaluation batch: ``[(answer, listed titles, target index or None)]``."""
        raise NotImplementedError

    # ----- results -----

    def save_adapter(self, folder):
        """Write the trained weights where users of Hugging Face / peft can load them."""
        raise NotImplementedError

    def result_extras(self, dataset):
        """Extra entries of the run's JSON result, about the last evaluation."""
        return {}
