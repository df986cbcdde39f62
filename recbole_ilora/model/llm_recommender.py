"""The contract between the LLM recommenders and the code that runs them (``runners.LLMRunner``, ``LLMTrainer``).

A RecBole model is run the RecBole way. An ``LLMRecommender`` is a RecBole ``SequentialRecommender`` (so RecBole's
loaders and evaluator serve it unchanged) that the runner and the trainer use only through what is listed here. It
places itself on ``config["device"]`` (a quantized backbone cannot be moved with ``.to()`` after loading). The model
class keeps what RecBole's models keep; its checks before any work, its adapter files and the gathering of scores
computed by several processes live in their own modules (``checks``, ``adapter_files``, the trainer's
``sharded_evaluation``).

before any work (no data, no backbone needed)
    ``canonical_values``, ``checks`` (a ``ModelChecks``), ``required_runs`` (``RequiredRun``), ``trains``
training
    ``optimizer_groups``, ``calculate_loss(interaction, step)``, ``training_statistics``,
    ``trainable_state_dict`` / ``load_trainable_state_dict`` and RecBole's ``other_parameter`` /
    ``load_other_parameter`` (what checkpoints hold)
evaluation
    ``begin_evaluation``, RecBole's ``predict`` / ``full_sort_predict``, ``generate_answers``,
    ``evaluation_records`` / ``add_evaluation_records`` (per-user records of a pass, merged across processes)
results
    ``adapter_parts`` (what ``adapter_files`` saves), ``result_extras``
"""

from dataclasses import dataclass
from typing import NamedTuple

from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType


class ModelChecks:
    """Checks of an LLM model's keys and data before any work; each raises a ``UserError`` naming the key or file."""

    @staticmethod
    def check_config(config):
        """Values of the model's keys that cannot work, before any data is read or prerequisite run trained."""

    @staticmethod
    def check_dataset(config, dataset):
        """Data the model cannot use (``dataset``: RecBole's, filtered), before any prerequisite run is trained."""


class RequiredRun(NamedTuple):
    """A run that must exist before another: ``model`` configured by ``config_dict`` on ``dataset`` (None: the
    dependent run's own dataset), from the dependent run's key ``settings_key`` (named when it cannot be built)."""

    model: str
    config_dict: dict
    settings_key: str
    dataset: str | None = None


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
    """Base of the LLM recommenders: what a runner and ``LLMTrainer`` may call (see the module docstring)."""

    input_type = InputType.POINTWISE
    checks = ModelChecks
    # Keys whose values make this model what it is (an ablation of iLoRA: TALLRec, LoRARec): another value is refused,
    # not run under this model's name; a study may not vary them across its arms either.
    defining_keys = {}

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._records = {}

    # ----- before any work -----

    @classmethod
    def required_runs(cls, config):
        """Runs that must exist before this one: ``{config key: RequiredRun}``. A checkpoint the user sets under the
        key is used as it is; else the run reuses a finished one with the same config hash or trains it first, and
        stores its checkpoint under the key. Each one's hash is part of this run's identity."""
        return {}

    # ----- training -----

    @classmethod
    def canonical_values(cls, values):
        """Put values that mean the same run into one spelling, in place in ``values`` (the final config dict, not
        yet checked), so that they hash alike."""

    @classmethod
    def trains(cls, config):
        """Whether a run of ``config`` trains (one that evaluates another run's trained weights does not)."""
        return True

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

    @property
    def may_leave_parameters_unused(self):
        """Whether some training batches use only part of the trainable weights (DDP must then look for unused
        ones after every backward pass, a traversal of the autograd graph it otherwise skips)."""
        return False

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

    def begin_evaluation(self):
        """Called before each evaluation pass: forget the previous pass's records."""
        self._records = {}

    def _record(self, records):
        """Note ``records`` (``{internal user id: record}``) of users just scored."""
        self._records.update(records)

    def evaluation_records(self):
        """``{internal user id: record}`` of the current evaluation pass (e.g. iLoRA's gate weights)."""
        return dict(self._records)

    def add_evaluation_records(self, records):
        self._records.update(records)

    def generate_answers(self, interaction, full_ranking, max_new_tokens):
        """Greedy answers for an evaluation batch: ``[(answer, listed titles, target index or None)]``."""
        raise NotImplementedError

    # ----- results -----

    def adapter_parts(self):
        """``(peft model, {name: tensor})``: the peft model whose LoRA weights form the adapter, and the other trained
        weights saved beside it (``adapter_files``)."""
        raise NotImplementedError

    def result_extras(self, dataset):
        """Extra entries of the run's JSON result, about the last evaluation."""
        return {}
