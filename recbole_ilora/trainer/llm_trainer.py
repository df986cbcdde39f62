"""``LLMTrainer``: the trainer of the LLM recommenders (iLoRA and its ablations).

On top of RecBole's ``Trainer`` (whose ``fit`` loop, early stopping and evaluator it keeps): AdamW over three
parameter groups (LoRA, projector, gate) with linear warmup from ``learning_rate x min_lr_ratio`` and cosine decay
back to it (the reference's schedule: no step is wasted at lr 0), gradient accumulation and clipping, a per-epoch
sample budget, progress bars in samples/s and users/s, per-step losses, learning rates and the model's training
statistics in RecBole's tensorboard folder, optional generation metrics, and checkpoints that hold only the trained
weights plus optimizer, scheduler and RNG states. A checkpoint is written every
``checkpoint_steps`` optimizer steps and at the end of each epoch, so ``resume_checkpoint`` continues a killed run
from the batch after its last checkpoint with the same data order, negatives and dropout.
"""

import math
import shutil
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import torch
from recbole.data.dataloader import FullSortEvalDataLoader
from recbole.trainer import Trainer
from recbole.utils import set_color
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.nn.utils import clip_grad_norm_
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from recbole_ilora import distributed
from recbole_ilora.compat import DDP_NO_BUFFER_SYNC
from recbole_ilora.errors import CheckpointError, ConfigurationError
from recbole_ilora.model.adapter_files import save_adapter
from recbole_ilora.model.llm_recommender import LLMRecommender, TrainingStep
from recbole_ilora.model.parts.generation import GenerationTally
from recbole_ilora.trainer.recording import EpochProgress, RunRecordingMixin
from recbole_ilora.trainer.sharded_evaluation import GatheredScores, gathered_scores, my_batches


def warmup_cosine_factor(step, warmup_steps, total_steps, floor):
    """Learning-rate multiplier: linear from ``floor`` to 1 over the warmup steps, then cosine down to ``floor``."""
    if step < warmup_steps:
        return floor + (1 - floor) * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class ModelLoss(nn.Module):
    """What DistributedDataParallel wraps: the model's ``calculate_loss`` as ``forward``, so that DDP's gradient
    hooks run (they are armed by a forward through the wrapper)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, interaction, step):
        return self.model.calculate_loss(interaction, step)


class RunningMeans:
    """Means over the epoch so far of what the progress bar shows (the last micro-batch's in-batch Hit@1 alone
    jumps between 0, 0.25 and 0.5 with 4 prompts)."""

    DIGITS = {"loss": 4}

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, **values):
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self):
        return {key: self.sums[key] / self.counts[key] for key in self.sums}

    def formatted(self):
        return {key: f"{value:.{self.DIGITS.get(key, 2)}f}" for key, value in self.means().items()}


class NullWriter:
    """A tensorboard writer that writes nothing (ranks other than 0)."""

    def add_scalar(self, *args, **kwargs):
        pass

    add_hparams = close = flush = add_scalar


class LLMTrainer(RunRecordingMixin, Trainer):
    """RecBole ``Trainer`` for the LLM recommenders (see the module docstring); it uses the model only through the
    ``LLMRecommender`` contract."""

    def __init__(self, config, model):
        if not isinstance(model, LLMRecommender):
            raise ConfigurationError(f"{type(self).__name__} trains LLMRecommender models, not "
                                     f"{type(model).__name__}.")
        super().__init__(config, model)
        self.accumulation = config["gradient_accumulation_steps"]
        self.samples_per_epoch = config["train_samples_per_epoch"]
        self.checkpoint_steps = config["checkpoint_steps"]
        self.warmup_ratio = config["warmup_ratio"]
        self.min_lr_ratio = config["min_lr_ratio"]
        self.generation_eval = config["generation_eval"]
        self.generation_max_new_tokens = config["generation_max_new_tokens"]
        self.scheduler = None  # needs the number of batches per epoch: built by fit
        self.total_steps = None
        self.pending_scheduler_state = None  # from resume_checkpoint, applied once the scheduler exists
        self.resume_position, self.resume_loss = 0, 0.0  # batches (and their loss) of start_epoch already done
        self.loader_state = None  # the train loader's RNG state at the start of the current epoch
        self.best_state = None
        self.adapter_dir = None
        self._eval_bar = None  # the evaluation progress bar while this process scores batches itself
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.ddp = self._data_parallel() if self.world_size > 1 else None
        if not distributed.is_main():  # only rank 0 logs to tensorboard (RecBole made a writer on every rank)
            self.tensorboard.close()
            shutil.rmtree(self.tensorboard.log_dir, ignore_errors=True)
            self.tensorboard = NullWriter()

    def _data_parallel(self):
        """DistributedDataParallel over the model's loss. Every rank built the same backbone and initial weights from
        the same seed; rank 0's trainable weights are broadcast anyway, so DDP's own full-model sync is skipped."""
        trainable = [param for param in self.model.parameters() if param.requires_grad]
        distributed.broadcast_tensors(trainable)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(ModelLoss(self.model), device_ids=device_ids, init_sync=False,
                                       find_unused_parameters=self.model.may_leave_parameters_unused,
                                       **DDP_NO_BUFFER_SYNC)

    def _build_optimizer(self, **kwargs):
        params = [{"params": group, "lr": self.config[f"{name}_learning_rate"] or self.config["learning_rate"],
                   "name": name} for name, group in self.model.optimizer_groups().items()]
        return super()._build_optimizer(params=params, learner=self.config["learner"], **kwargs)

    def _batches_per_epoch(self, train_data):
        if not self.samples_per_epoch:
            return len(train_data)
        return min(len(train_data), math.ceil(self.samples_per_epoch / train_data.step))

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        batches = self._batches_per_epoch(train_data)
        if batches < self.world_size:
            raise ConfigurationError(
                f"An epoch has {batches} batch(es) of train_batch_size={train_data.step}, fewer than the "
                f"{self.world_size} processes: raise train_samples_per_epoch or lower train_batch_size.")
        if batches % self.world_size:
            self.logger.warning(f"{batches % self.world_size} of the epoch's {batches} batches are left out so that "
                                f"the {self.world_size} processes train the same number.")
        steps_per_epoch = math.ceil(self._batches_per_rank(train_data) / self.accumulation)
        self.total_steps = total_steps = steps_per_epoch * self.epochs
        self.scheduler = LambdaLR(self.optimizer, partial(
            warmup_cosine_factor, warmup_steps=round(self.warmup_ratio * total_steps), total_steps=total_steps,
            floor=self.min_lr_ratio))
        if self.pending_scheduler_state is not None:
            self.scheduler.load_state_dict(self.pending_scheduler_state)
            for group, rate in zip(self.optimizer.param_groups, self.scheduler.get_last_lr()):
                group["lr"] = rate  # creating the scheduler reset the rates to their warmup start
        self.logger.info(f"Training budget: {self.epochs} epoch(s) x {self._batches_per_rank(train_data)} batches "
                         f"of {train_data.step} samples on each of {self.world_size} process(es), {total_steps} "
                         f"optimizer steps of {train_data.step * self.accumulation * self.world_size} samples")
        result = super().fit(train_data, valid_data, verbose, saved, show_progress, callback_fn)
        if saved:
            self._export_adapter()
        return result

    def _batches_per_rank(self, train_data):
        """Micro-batches each rank trains per epoch: the epoch's batches dealt round-robin (rank r takes batches
        r, r + N, ...), the remainder that would leave ranks uneven dropped."""
        return self._batches_per_epoch(train_data) // self.world_size

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        """One epoch; ``loss_func`` is RecBole's hook, unused: the loss is the model's ``calculate_loss``."""
        with self._timed_epoch(epoch_idx):
            return self._epoch_batches(train_data, epoch_idx, show_progress)

    def _epoch_batches(self, train_data, epoch_idx, show_progress):
        """This rank's micro-batches of one epoch (from where a resumed run left off); the epoch's mean loss."""
        self.model.train()
        mine = self._batches_per_rank(train_data)
        last = mine * self.world_size  # global batch index the epoch stops before
        skip, total_loss = self.resume_position, self.resume_loss  # global batches of this epoch already trained
        if skip:  # resuming mid-epoch: replay this epoch's order and pass over the batches already trained
            train_data.generator.set_state(self.loader_state)
        else:
            self.loader_state = train_data.generator.get_state()
        self.resume_position, self.resume_loss = 0, 0.0
        bar = tqdm(total=last * train_data.step, initial=skip * train_data.step, unit="sample", ncols=100,
                   desc=set_color(f"Train {epoch_idx:>5}", "pink"),
                   disable=not show_progress or not distributed.is_main())
        self.optimizer.zero_grad()
        shown = RunningMeans()
        for batch_idx, interaction in enumerate(train_data):
            if batch_idx >= last:
                break
            if batch_idx < skip or batch_idx % self.world_size != self.rank:
                continue
            local = batch_idx // self.world_size  # this rank's micro-batch number
            step_ends = (local + 1) % self.accumulation == 0 or local + 1 == mine
            step = TrainingStep(epoch_idx, self.scheduler.last_epoch, self.total_steps)
            loss = self._micro_batch(interaction.to(self.device), step, synchronize=step_ends)
            total_loss += loss.item()
            statistics = self.model.training_statistics()
            self._log_step(epoch_idx * last + batch_idx, loss.item(), statistics)
            if step_ends:
                if self.clip_grad_norm:
                    clip_grad_norm_(self.model.parameters(), **self.clip_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad()
                done = (local + 1) * self.world_size
                if self.checkpoint_steps and self.scheduler.last_epoch % self.checkpoint_steps == 0 and done < last:
                    self._save_checkpoint(epoch_idx, verbose=False, progress=EpochProgress(done, total_loss))
            bar.update(len(interaction) * self.world_size)
            shown.add(loss=loss.item(), **{key: statistics[key] for key in ("hit@1",) if key in statistics})
            bar.set_postfix(lr=f"{self.scheduler.get_last_lr()[0]:.2e}", **shown.formatted())
        bar.close()
        # Training of this epoch is done; its validation may still be interrupted: resuming re-validates it.
        self._save_checkpoint(epoch_idx, verbose=False, progress=EpochProgress(last, total_loss))
        return total_loss / mine

    def _micro_batch(self, interaction, step, synchronize):
        """Forward and backward of one micro-batch, its loss scaled for accumulation. Under torchrun the loss runs
        through DistributedDataParallel, whose gradient all-reduce happens only on a step's last micro-batch
        (``no_sync`` before), so each step averages the gradients of every rank's micro-batches."""
        if self.ddp is None:
            loss = self.model.calculate_loss(interaction, step)
            self._check_nan(loss)
            (loss / self.accumulation).backward()
            return loss
        with nullcontext() if synchronize else self.ddp.no_sync():
            loss = self.ddp(interaction, step)
            self._check_nan(loss)
            (loss / self.accumulation).backward()
        return loss

    def _log_step(self, batch, loss, statistics):
        """One micro-batch in tensorboard (RecBole's ``log_tensorboard`` folder): loss, each group's learning rate,
        and the model's training statistics (the softmax loss is ln(candidates) at chance)."""
        self.tensorboard.add_scalar("Train/loss", loss, batch)
        for group in self.optimizer.param_groups:
            self.tensorboard.add_scalar(f"Train/lr_{group['name']}", group["lr"], batch)
        for key, value in statistics.items():
            self.tensorboard.add_scalar(f"Train/{key}", value, batch)

    def _checkpoint_content(self, epoch, progress):
        """Without ``progress`` this is RecBole's call after a better validation (or after every epoch when there
        is none): the current weights become the best ones and training continues with the next epoch."""
        if progress is None:
            self.best_state = self.model.trainable_state_dict()
            epoch, progress = epoch + 1, EpochProgress(0, 0.0)
        current = self.model.trainable_state_dict()
        return {
            "epoch": epoch,
            "position": progress.position,  # global batches of the epoch done (all ranks together)
            "world_size": self.world_size,
            "epoch_loss": progress.loss,
            "weights": self.best_state if self.best_state is not None else current,  # what evaluation loads
            "best_weights": self.best_state,
            "current_weights": current,
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "rng": {"torch": torch.get_rng_state(), "loader": self.loader_state,
                    "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None},
        }

    def _resume_from(self, checkpoint):
        if checkpoint["position"] and checkpoint["world_size"] != self.world_size:
            raise CheckpointError(
                f"The checkpoint was written mid-epoch by {checkpoint['world_size']} process(es); resume it with "
                f"torchrun --nproc_per_node={checkpoint['world_size']} (this run has {self.world_size}), or from a "
                f"checkpoint written at an epoch's end.")
        self.start_epoch, self.resume_position = checkpoint["epoch"], checkpoint["position"]
        self.resume_loss = checkpoint["epoch_loss"]
        self.best_state = checkpoint["best_weights"]
        self.model.load_trainable_state_dict(checkpoint["current_weights"])
        self.pending_scheduler_state = checkpoint["scheduler"]
        torch.set_rng_state(checkpoint["rng"]["torch"])
        if checkpoint["rng"]["cuda"] is not None and self.device.type == "cuda":  # dropout on the GPU
            torch.cuda.set_rng_state(checkpoint["rng"]["cuda"], self.device)
        self.loader_state = checkpoint["rng"]["loader"]
        self.logger.info(f"Resuming training at epoch {self.start_epoch}, batch {self.resume_position}")
        return bool(self.resume_position)

    def _evaluate_loaded(self, eval_data, show_progress):
        """RecBole's evaluation of the weights in place, users counted on a progress bar. Under torchrun the ranks
        score their shares and gather every score first (``sharded_evaluation``)."""
        if not eval_data:
            return None
        bar = tqdm(total=eval_data.sample_size // self.world_size, unit="user", ncols=100,
                   desc=set_color("Evaluate   ", "pink"), disable=not show_progress or not distributed.is_main())
        self.model.begin_evaluation()
        try:
            if self.ddp is None:
                with self._counting_users(bar):
                    result = super()._evaluate_loaded(eval_data, show_progress=False)
            else:
                scores = gathered_scores(self.model, eval_data, self.rank, self.world_size, self.device,
                                         on_batch=lambda interaction: bar.update(self._users_in(interaction)))
                with self._model_replaced(GatheredScores(scores, self.device)):
                    result = super()._evaluate_loaded(eval_data, show_progress=False)
            if self.generation_eval and eval_data._sampler.phase == "test":  # RecBole's samplers know their phase
                bar.reset()
                bar.set_description(set_color("Generate   ", "pink"))
                with self._counting_users(bar):
                    result.update(self._generation_metrics(eval_data))
        finally:
            bar.close()
        return result

    @contextmanager
    def _counting_users(self, bar):
        self._eval_bar = bar
        try:
            yield
        finally:
            self._eval_bar = None

    @contextmanager
    def _model_replaced(self, stand_in):
        model, self.model = self.model, stand_in
        try:
            yield
        finally:
            self.model = model

    def _users_in(self, interaction):
        """Users of an evaluation batch: one row each under full ranking, their candidates' rows otherwise."""
        return len(torch.unique(interaction[self.config["USER_ID_FIELD"]]))

    def _neg_sample_batch_eval(self, batched_data):
        scored = super()._neg_sample_batch_eval(batched_data)
        if self._eval_bar is not None:
            self._eval_bar.update(self._users_in(batched_data[0]))
        return scored

    def _full_sort_batch_eval(self, batched_data):
        scored = super()._full_sort_batch_eval(batched_data)
        if self._eval_bar is not None:
            self._eval_bar.update(self._users_in(batched_data[0]))
        return scored

    @torch.no_grad()
    def _generation_metrics(self, eval_data):
        self.model.eval()
        tally = GenerationTally()
        full_ranking = isinstance(eval_data, FullSortEvalDataLoader)
        for _, interaction in my_batches(eval_data, self.rank, self.world_size):
            answers = self.model.generate_answers(interaction.to(self.device), full_ranking,
                                                  self.generation_max_new_tokens)
            for answer, titles, target in answers:
                tally.add(answer, titles, target)
            if self._eval_bar is not None:
                self._eval_bar.update(len(answers))
        return GenerationTally.merged(distributed.gather(tally)).metrics()

    def _export_adapter(self):
        """Save the best weights (the last ones where no validation chose any) as a peft adapter folder beside the
        checkpoint."""
        if self.best_state is not None:
            self.model.load_trainable_state_dict(self.best_state)
        self.adapter_dir = str(Path(self.saved_model_file).with_suffix("")) + "-adapter"
        save_adapter(self.model, self.adapter_dir)
        self.logger.info(set_color("Adapter saved", "blue") + f": {self.adapter_dir}")

    def _trainer_extras(self):
        return {"adapter_dir": self.adapter_dir}
