"""What every run of this package records and saves on top of its RecBole trainer: ``RunRecordingMixin``.

The mixin times epochs (across an interruption and resume), keeps the last evaluation's per-user ranks, and owns
checkpoints: written through ``recbole_ilora.checkpoint`` (plain data, atomic, a fresh file name per run, so a
resumed run never writes over the file it resumed from), resumed and reloaded only by a run of the same experiment.
It saves what every trainer has (progress of early stopping, optimizer, timing); what else a checkpoint holds is the
trainer's own business, through the hooks the mixin declares (``RecBoleCheckpoints`` for RecBole's trainers,
``LLMTrainer`` for the LLM models).
"""

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from recbole.evaluator import Collector, Evaluator
from recbole.utils import set_color

from recbole_ilora import checkpoint as checkpoints
from recbole_ilora import distributed
from recbole_ilora.errors import TrainingDivergedError
from recbole_ilora.model.llm_recommender import LLMRecommender
from recbole_ilora.results import TrainingRecord


class RankRecordingEvaluator(Evaluator):
    """RecBole's evaluator that also keeps the last evaluation's per-user top-k hits (``rec.topk``), so that a
    run can save each user's rank of the target for paired significance tests."""

    last_topk = None

    def evaluate(self, dataobject):
        self.last_topk = dataobject.get("rec.topk") if "rec.topk" in dataobject else None
        return super().evaluate(dataobject)


class FiniteScoreCollector(Collector):
    """RecBole's collector of evaluation batches, refusing NaN or +inf scores (-inf masks a user's history): weights
    that overflowed in training score every candidate alike, and RecBole would rank them anyway."""

    def eval_batch_collect(self, scores_tensor, interaction, positive_u, positive_i):
        if torch.isnan(scores_tensor).any() or torch.isposinf(scores_tensor).any():
            raise TrainingDivergedError(
                f"The model scores candidates as NaN or infinite: its weights overflowed in training, so its ranks "
                f"mean nothing. Lower learning_rate (now {self.config['learning_rate']}) or keep clip_grad_norm on "
                f"(now {self.config['clip_grad_norm']}).")
        super().eval_batch_collect(scores_tensor, interaction, positive_u, positive_i)


def restore_evaluated(model, checkpoint):
    """Put a checkpoint's weights to evaluate into ``model`` (an LLM model's trainable weights, or a RecBole model's
    whole state) and its ``other_parameter``."""
    if isinstance(model, LLMRecommender):
        model.load_trainable_state_dict(checkpoint["weights"])
    else:
        model.load_state_dict(checkpoint["weights"])
    model.load_other_parameter(checkpoint.get("other_parameter"))


@dataclass(frozen=True)
class EpochProgress:
    """How far into an epoch a checkpoint is written: global batches done (all ranks together) and their loss."""

    position: int
    loss: float


class RunRecordingMixin:
    """Timing, per-user ranks and checkpoints of every run (see the module docstring).

    A trainer wraps its ``_train_epoch`` body in ``_timed_epoch()``. Hooks it implements:
        ``_checkpoint_content(epoch, progress)``: its part of a checkpoint written after ``epoch``; must hold
            ``weights`` (what evaluation loads). ``progress`` is an ``EpochProgress`` when the checkpoint is written
            inside an epoch, else None (RecBole's save after a better validation, or after an epoch without one).
        ``_resume_from(checkpoint)``: restore model and progress from a checkpoint of the same experiment; return
            whether training continues inside the checkpoint's epoch.
        ``_trainer_extras()``: the trainer's own entries of the JSON result.
        ``_evaluate_loaded(eval_data, show_progress)``: evaluate the weights in place (RecBole's loop by default).
    """

    def __init__(self, config, model):
        super().__init__(config, model)
        # Data-parallel: an LLM model's run under torchrun, or a RecBole model's under RecBole's own DDP. Not a
        # prerequisite run that rank 0 makes alone inside a torchrun job.
        self.parallel = distributed.active() and (isinstance(model, LLMRecommender) or not config["single_spec"])
        # RecBole names checkpoints by the second: two runs started together would share one file. The experiment's
        # hash in the name finds a stopped run's checkpoints (checkpoints.latest_of). Absolute, as JSON results and
        # prerequisite runs refer to it from anywhere; rank 0's name on every rank.
        name = str(Path(checkpoints.file_name(self.saved_model_file, config.experiment_hash,
                                              uuid.uuid4().hex[:6])).resolve())
        self.saved_model_file = distributed.broadcast(name) if self.parallel else name
        self.evaluator = RankRecordingEvaluator(config)
        self.eval_collector = FiniteScoreCollector(config)
        self.train_epoch_seconds = []
        self.valid_epoch_seconds = []
        self.resumed_from = None
        self.fit_seconds_before = 0.0  # fit time of the processes this run resumed from
        self.carried_epoch_seconds = 0.0  # time the interrupted process spent in the epoch a resume continues
        self._fit_started = self._epoch_started = None
        self._epoch_valid_result = None  # this epoch's validation result, until RecBole assigns best_valid_result
        self._epoch_index = self._batches_checked = 0  # where a non-finite loss is reported
        self.finished = False  # training ended (a resumed finished run only evaluates)

    # ----- hooks -----

    def _checkpoint_content(self, epoch, progress):
        raise NotImplementedError

    def _resume_from(self, checkpoint):
        raise NotImplementedError

    def _trainer_extras(self):
        return {}

    # ----- timing -----

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        """RecBole's ``fit``; a resumed run whose training had finished trains no further. Once training ends the
        checkpoint is marked finished, so that resuming it (to write a result that could not be written) only
        evaluates."""
        self._fit_started = time.perf_counter()
        if self.finished or self.start_epoch >= self.epochs:
            return self.best_valid_score, self.best_valid_result
        result = super().fit(train_data, valid_data, verbose, saved, show_progress, callback_fn)
        self.finished = True
        if saved and (not self.parallel or distributed.is_main()):
            checkpoints.mark_finished(self.saved_model_file, self._timing())
        if self.parallel:
            distributed.barrier()
        return result

    def fit_seconds(self):
        """Training time of this run, including that of the processes it resumed from."""
        running = time.perf_counter() - self._fit_started if self._fit_started is not None else 0.0
        return self.fit_seconds_before + running

    def _check_nan(self, loss):
        """RecBole's check of each batch's loss, stopping at once with where and what to change (RecBole raises a
        bare ``ValueError: Training loss is nan``, and misses an infinite loss)."""
        self._batches_checked += 1
        if not torch.isfinite(loss).all():
            raise TrainingDivergedError(
                f"Training loss is {loss.item()} at epoch {self._epoch_index}, batch {self._batches_checked}: the run "
                f"diverged. Lower learning_rate (now {self.config['learning_rate']}), keep clip_grad_norm on (now "
                f"{self.config['clip_grad_norm']}), or check the data; the last checkpoint is {self.saved_model_file}.")

    @contextmanager
    def _timed_epoch(self, epoch_idx):
        """Around a trainer's ``_train_epoch`` body: its time, counting what an interrupted process spent on it."""
        self._epoch_index, self._batches_checked = epoch_idx, 0
        start = time.perf_counter() - self.carried_epoch_seconds
        self.carried_epoch_seconds = 0.0
        self._epoch_started = start
        self._epoch_valid_result = None
        yield
        self._check_weights(epoch_idx)
        self.train_epoch_seconds.append(time.perf_counter() - start)

    def _check_weights(self, epoch_idx):
        """The trained weights are finite after an epoch: a step that overflows leaves NaN or infinite weights while
        the loss it computed was finite, and with one batch an epoch no later loss shows it (the run would write a
        result from NaN scores). Stops before the epoch's checkpoint, so the last one holds finite weights."""
        broken = next((name for name, weight in self.model.named_parameters()
                       if weight.requires_grad and not torch.isfinite(weight).all()), None)
        if broken is not None:
            raise TrainingDivergedError(
                f"After epoch {epoch_idx} the weight {broken} holds NaN or infinite values: the run diverged. Lower "
                f"learning_rate (now {self.config['learning_rate']}), keep clip_grad_norm on (now "
                f"{self.config['clip_grad_norm']}), or check the data; the last checkpoint is {self.saved_model_file}.")

    def _valid_epoch(self, *args, **kwargs):
        start = time.perf_counter()
        valid_score, valid_result = super()._valid_epoch(*args, **kwargs)
        self.valid_epoch_seconds.append(time.perf_counter() - start)
        self._epoch_valid_result = valid_result
        return valid_score, valid_result

    # ----- checkpoints -----

    def _best_valid_result_now(self, progress):
        """The best validation result as of a checkpoint: RecBole's ``fit`` saves after a better validation but
        assigns ``best_valid_result`` only afterwards, so at that save the best is this epoch's result."""
        if progress is None and self._epoch_valid_result is not None:
            return dict(self._epoch_valid_result)
        return dict(self.best_valid_result) if self.best_valid_result else None

    def _timing(self):
        in_epoch = time.perf_counter() - self._epoch_started if self._epoch_started is not None else 0.0
        return {"train_epoch_seconds": list(self.train_epoch_seconds), "fit_seconds": self.fit_seconds(),
                "valid_epoch_seconds": list(self.valid_epoch_seconds), "epoch_seconds": in_epoch}

    def _save_checkpoint(self, epoch, verbose=True, progress=None):
        """Every rank takes part (the content may update trainer state); rank 0 writes, and the others wait for it
        so that none reads an older file afterwards."""
        content = self._checkpoint_content(epoch, progress)
        if self.parallel and not distributed.is_main():
            distributed.barrier()
            return
        checkpoints.save(self.saved_model_file, self.config, timing=self._timing(), finished=self.finished, cur_step=self.cur_step,
                         best_valid_score=self.best_valid_score, best_valid_result=self._best_valid_result_now(progress),
                         other_parameter=self.model.other_parameter(), optimizer=self.optimizer.state_dict(),
                         **content)
        if self.parallel:
            distributed.barrier()
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {self.saved_model_file}")

    def resume_checkpoint(self, resume_file):
        """Continue the run that wrote ``resume_file`` (same experiment only); this run writes its own new files."""
        checkpoint = checkpoints.load(resume_file, self.device)
        checkpoints.check_same_experiment(checkpoint, self.config, resume_file, "resumed")
        with checkpoints.resume_guard(resume_file):
            self.cur_step, self.best_valid_score = checkpoint["cur_step"], checkpoint["best_valid_score"]
            self.best_valid_result = checkpoint.get("best_valid_result")  # absent before 0.2 (RecBole models)
            self.finished = bool(checkpoint.get("finished"))
            mid_epoch = self._resume_from(checkpoint)
            self.model.load_other_parameter(checkpoint["other_parameter"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            timing = checkpoint["timing"]
            self.train_epoch_seconds = list(timing["train_epoch_seconds"])
            self.valid_epoch_seconds = list(timing["valid_epoch_seconds"])
            self.fit_seconds_before = timing["fit_seconds"]
            self.carried_epoch_seconds = timing["epoch_seconds"] if mid_epoch else 0.0
        self.resumed_from = str(resume_file)
        # This run's own file starts as a copy: its evaluation finds the best weights even if it never improves.
        if not self.parallel or distributed.is_main():
            checkpoints.save(self.saved_model_file, self.config, **checkpoints.content(checkpoint))
        if self.parallel:
            distributed.barrier()
        self.logger.info(set_color("Checkpoint loaded", "blue") + f": {resume_file}; this run saves to "
                         f"{self.saved_model_file}")

    # ----- evaluation and the record -----

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        """RecBole's evaluation; the best weights come from this package's checkpoint (RecBole's own loading
        unpickles its Config, which torch >= 2.6 refuses: RecBole issues #2212, #2215)."""
        if load_best_model and eval_data:
            checkpoint_file = model_file or self.saved_model_file
            checkpoint = checkpoints.load(checkpoint_file, self.device)
            checkpoints.check_same_experiment(checkpoint, self.config, checkpoint_file, "evaluated")
            with checkpoints.resume_guard(self.resumed_from or checkpoint_file):  # weights of another shape
                restore_evaluated(self.model, checkpoint)
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return self._evaluate_loaded(eval_data, show_progress)

    def _evaluate_loaded(self, eval_data, show_progress):
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

    def last_eval_ranks(self):
        """1-based rank of each evaluated user's target in the last evaluation; None where it ranked below
        ``max(topk)`` (RecBole's collector keeps only the top ``max(topk)``)."""
        topk = self.evaluator.last_topk
        if topk is None:
            return None
        hits = topk[:, :-1].bool()  # the last column holds the number of positives
        first_hit = hits.int().argmax(dim=1) + 1
        return [rank if found else None for rank, found in zip(first_hit.tolist(), hits.any(dim=1).tolist())]

    def training_record(self):
        """What the JSON result reports about this trainer's run (after the test evaluation)."""
        extras = {**self._trainer_extras(), **({"resumed_from": self.resumed_from} if self.resumed_from else {})}
        return TrainingRecord(self.train_epoch_seconds, self.valid_epoch_seconds, self.last_eval_ranks(),
                              distributed.world_size() if self.parallel else 1, extras)


class RecBoleCheckpoints(RunRecordingMixin):
    """Run recording for RecBole's own trainers. RecBole saves a checkpoint only after a better validation, so a
    killed run resumed from it restarted from the best epoch; here the checkpoint also holds the state after the
    last completed epoch (its weights, optimizer, early-stopping counters, and the RNG states of dropout and of the
    training loader's order), written at the start of each epoch, so that a resumed run continues exactly where
    the killed one left off and ends with the metrics the uninterrupted run would have."""

    def __init__(self, config, model):
        super().__init__(config, model)
        self.best_state = None  # the weights of the best validation so far (what evaluation loads)
        self._loader_state = None  # the training loader's RNG state to apply before the next epoch (a resume)
        self._train_loader = None

    def _train_epoch(self, train_data, epoch_idx, *args, **kwargs):
        self._train_loader = train_data
        if self._loader_state is not None:
            train_data.generator.set_state(self._loader_state)
            self._loader_state = None
        elif epoch_idx > self.start_epoch:  # the state after the previous epoch, its validation included
            self._save_checkpoint(epoch_idx - 1, verbose=False, progress=EpochProgress(0, 0.0))
        with self._timed_epoch(epoch_idx):
            return super()._train_epoch(train_data, epoch_idx, *args, **kwargs)

    def _checkpoint_content(self, epoch, progress):
        """``progress`` None: RecBole's save after a better validation (or after every epoch without validation):
        the current weights become the best ones."""
        current = {name: tensor.detach().clone() for name, tensor in self.model.state_dict().items()}
        if progress is None:
            self.best_state = current
        loader = self._train_loader.generator.get_state() if self._train_loader is not None else None
        return {"epoch": epoch, "weights": self.best_state if self.best_state is not None else current,
                "current_weights": current, "rng": {"torch": torch.get_rng_state(), "loader": loader,
                                                    "cuda": torch.cuda.get_rng_state_all()
                                                    if torch.cuda.is_available() else None}}

    def _resume_from(self, checkpoint):
        self.start_epoch = checkpoint["epoch"] + 1
        self.best_state = checkpoint["weights"]
        self.model.load_state_dict(checkpoint.get("current_weights", checkpoint["weights"]))
        rng = checkpoint.get("rng") or {}
        if rng.get("torch") is not None:
            torch.set_rng_state(rng["torch"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self._loader_state = rng.get("loader")
        return False
