"""LLMTrainer on a tiny random Llama: exact resume, the learning-rate schedule, what it records and logs."""

import pytest
from conftest import build_llm

from recbole_ilora.runners import get_trainer
from recbole_ilora.trainer import LLMTrainer


def test_every_llm_model_trains_with_the_llm_trainer_and_each_epoch_is_recorded(llm_setup, tmp_path):
    for model in ("iLoRA", "LoRARec", "TALLRec"):
        config, _, (train_data, _, test_data), built = build_llm(
            llm_setup, model, train_samples_per_epoch=8, epochs=2, eval_step=0, checkpoint_dir=str(tmp_path))
        trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, built)
        assert type(trainer) is LLMTrainer
        trainer.fit(train_data)
        trainer.evaluate(test_data)
        record = trainer.training_record()
        assert len(record.train_epoch_seconds) == 2 and all(seconds > 0 for seconds in record.train_epoch_seconds)
        assert len(record.test_ranks) == len(set(test_data._dataset.inter_feat["user_id"].tolist()))
        assert record.world_size == 1 and record.extras["adapter_dir"].endswith("-adapter")
def test_trainer_resumes_a_killed_run_with_the_same_next_loss(llm_setup, tmp_path):
    overrides = dict(train_samples_per_epoch=16, gradient_accumulation_steps=1, checkpoint_steps=1, eval_step=0,
                     lora_dropout=0.1, checkpoint_dir=str(tmp_path))

    def fresh_trainer(kill_at_step=None):
        """What a new process builds; the model's losses are recorded, and it is killed at a step if asked."""
        config, _, (train_data, _, _), model = build_llm(llm_setup, **overrides)
        losses, calculate = [], model.calculate_loss

        def recorded(interaction, step=None):
            if len(losses) == kill_at_step:
                raise KeyboardInterrupt("killed")
            losses.append(calculate(interaction, step))
            return losses[-1]

        model.calculate_loss = recorded
        return get_trainer(config["MODEL_TYPE"], config["model"])(config, model), train_data, losses

    trainer, train_data, losses = fresh_trainer()
    trainer.fit(train_data)
    reference = [loss.item() for loss in losses]
    assert len(reference) == 4  # 16 samples / batches of 4

    killed, train_data, _ = fresh_trainer(kill_at_step=2)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(train_data)  # its last checkpoint was written after step 2

    resumed, train_data, losses = fresh_trainer()
    resumed.resume_checkpoint(killed.saved_model_file)
    resumed.fit(train_data)
    assert [loss.item() for loss in losses] == pytest.approx(reference[2:], abs=1e-6)


def test_learning_rate_warms_up_from_and_decays_to_the_floor():
    from recbole_ilora.trainer.llm_trainer import warmup_cosine_factor

    factors = [warmup_cosine_factor(step, 10, 100, 0.01) for step in range(101)]
    assert factors[0] == pytest.approx(0.01) and factors[10] == pytest.approx(1.0) and factors[100] == pytest.approx(0.01)
    assert max(factors) == pytest.approx(1.0) and min(factors) == pytest.approx(0.01)
    assert all(a < b for a, b in zip(factors[:10], factors[1:11])) and all(a >= b for a, b in zip(factors[10:], factors[11:]))


def test_training_logs_loss_learning_rate_and_gate_entropy_to_tensorboard(llm_setup, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config, _, (train_data, _, _), model = build_llm(llm_setup, train_samples_per_epoch=8, eval_step=0,
                                                 checkpoint_dir=str(tmp_path))
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.fit(train_data)
    trainer.tensorboard.flush()
    events = EventAccumulator(trainer.tensorboard.log_dir)
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"Train/loss", "Train/softmax_loss", "Train/hit@1", "Train/gate_entropy", "Train/lr_lora"} <= tags
    assert len(events.Scalars("Train/loss")) == 2  # 8 samples / batches of 4
    entropy = [event.value for event in events.Scalars("Train/gate_entropy")]
    assert all(0 < value <= 1 for value in entropy)


def test_the_progress_bar_shows_running_means_over_the_epoch():
    from recbole_ilora.trainer.llm_trainer import RunningMeans

    shown = RunningMeans()
    for loss, hit in ((3.0, 0.0), (2.0, 0.5), (1.0, 0.25)):
        shown.add(loss=loss, **{"hit@1": hit})
    assert shown.means() == {"loss": 2.0, "hit@1": 0.25}
    assert shown.formatted() == {"loss": "2.0000", "hit@1": "0.25"}
