"""iLoRA as a RecBole model, on a tiny random Llama and a tiny dataset written by the test."""

import pandas as pd
import pytest
import torch
from conftest import TINY_CORPUS, TINY_RUN, build_llm, build_tiny_llama, first_batch, write_atomic_dataset
from recbole.utils import init_seed

from recbole_ilora.config import Config
from recbole_ilora.data import data_preparation, load_dataset
from recbole_ilora.errors import ConfigurationError, DataError
from recbole_ilora.model.adapter_files import load_adapter, save_adapter
from recbole_ilora.model.llm_recommender import TrainingStep
from recbole_ilora.model.parts.prompt import pad
from recbole_ilora.model.parts.scoring import position_ids_from_mask
from recbole_ilora.quick_start import run
from recbole_ilora.registry import get_model
from recbole_ilora.runners import get_trainer


def test_only_projector_gate_and_lora_get_gradients(built):
    _, _, (train_data, _, _), model = built
    model.train()
    # LoRA's B starts at zero, so the gate's gradient is zero until one step has moved B.
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.calculate_loss(first_batch(train_data)).backward()
    optimizer.step()
    model.zero_grad()
    model.calculate_loss(first_batch(train_data)).backward()
    with_grad = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert with_grad and with_grad <= trainable
    assert all(name.startswith(("projector.", "gate.")) or ".lora_" in name for name in trainable)
    assert any(name.startswith("projector.") for name in with_grad) and any(name.startswith("gate.") for name in with_grad)
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert not any(p.requires_grad for n, p in model.llm.named_parameters() if ".lora_" not in n)


def test_each_placeholder_carries_its_items_projected_embedding(built):
    _, _, (train_data, _, _), model = built
    prompts = model.prompts
    history, candidates = [3, 5, 9], [11, 3, 7]
    ids = torch.tensor([prompts.prompt_ids(history, candidates)])
    embeds = model._input_embeds(ids, [history + candidates])
    plain = model.llm.get_input_embeddings()(ids)
    projected = model.projector(model.encoder.item_embedding(torch.tensor(history + candidates)))
    slots = ((ids == prompts.history_token_id) | (ids == prompts.candidate_token_id))[0].nonzero().squeeze(1)
    assert slots.tolist() == sorted(slots.tolist()) and len(slots) == 6
    assert (ids[0, slots[:3]] == prompts.history_token_id).all() and (ids[0, slots[3:]] == prompts.candidate_token_id).all()
    assert torch.allclose(embeds[0, slots], projected)
    others = torch.ones(ids.shape[1], dtype=torch.bool)
    others[slots] = False
    assert torch.equal(embeds[0, others], plain[0, others])
    text = model.tokenizer.decode(ids[0])
    titles = [model.titles[item] for item in history]
    assert text.index(titles[0]) < text.index(titles[1]) < text.index(titles[2]) < text.index("following 3 movie")


def test_prompts_list_the_evaluators_candidates_shuffled(built):
    _, dataset, (_, _, test_data), model = built
    interaction = first_batch(test_data)[0]
    starts, candidate_lists = model._user_groups(interaction)
    assert len(starts) == 2 and all(len(c) == 20 for c in candidate_lists)  # 40 rows = 2 users x 20
    users = interaction[model.USER_ID][starts]
    *_, shown = model._prompts(interaction[model.ITEM_SEQ][starts], interaction[model.ITEM_SEQ_LEN][starts],
                                users, candidate_lists)
    for listed, candidates in zip(shown, candidate_lists):
        assert sorted(listed) == sorted(candidates) and listed != candidates  # all listed, positive not kept first
        prompt = model.tokenizer.decode(model.prompts.prompt_ids([], listed))
        assert all(f"{model.titles[item]}[CansEmb]" in prompt.replace(" [CansEmb]", "[CansEmb]") for item in listed)


def naive_scores(model, history, candidates, gate):
    """Reference: each candidate's log P(title + EOS | prompt) by a full forward over prompt + candidate, no cache."""
    scores = []
    prompt = model.prompts.prompt_ids(history, candidates)
    for item in candidates:
        answer = model.prompts.target_ids(item)
        ids = torch.tensor([prompt + answer])
        embeds = model._input_embeds(ids, [history + candidates])
        with torch.no_grad(), model.router.route(gate):
            logprobs = model.llm(inputs_embeds=embeds).logits[0].log_softmax(-1)
        positions = range(len(prompt) - 1, len(prompt) + len(answer) - 1)
        scores.append(sum(logprobs[p, t] for p, t in zip(positions, answer)))
    return torch.stack(scores)


def test_kv_cached_scoring_equals_naive_scoring(built):
    _, _, (_, _, test_data), model = built
    model.eval()
    interaction = first_batch(test_data)[0]
    starts, candidate_lists = model._user_groups(interaction)
    item_seq, lengths = interaction[model.ITEM_SEQ][starts], interaction[model.ITEM_SEQ_LEN][starts]
    users = interaction[model.USER_ID][starts]
    cached = model._score_users(item_seq, lengths, users, candidate_lists)
    _, _, gates, shown = model._prompts(item_seq, lengths, users, candidate_lists)
    histories = model._histories(item_seq, lengths)
    for row in range(len(starts)):
        expected = naive_scores(model, histories[row], shown[row], gates[row:row + 1])
        order = {item: i for i, item in enumerate(shown[row])}
        got = cached[row * 20:(row + 1) * 20]
        assert torch.allclose(got, expected[[order[item] for item in candidate_lists[row]]], atol=1e-4)


@pytest.fixture(scope="module")
def fittable_llama(tmp_path_factory):
    """A tiny Llama whose logits can spread (conftest.build_tiny_llama): at the default initialisation the
    softmax case fitted its 4 targets by 0.3-1.4 nats, which an AVX-512 CPU's rounding overturned for one."""
    return build_tiny_llama(tmp_path_factory.mktemp("fittable-llama"), TINY_CORPUS, initializer_range=0.3)


@pytest.mark.parametrize("loss_type", ["lm", "softmax"])
def test_overfitted_model_ranks_the_memorised_target_first(llm_setup, fittable_llama, loss_type):
    _, _, (train_data, _, _), model = build_llm(llm_setup, lora_dropout=0.0, loss_type=loss_type,
                                                llm_path=str(fittable_llama))
    batch = first_batch(train_data)
    item_seq, lengths = batch[model.ITEM_SEQ][:4], batch[model.ITEM_SEQ_LEN][:4]
    targets = batch[model.POS_ITEM_ID][:4]
    # lr 1e-2 made the softmax case oscillate on an AVX2 CPU (2 of 4 targets first after 60 steps); 3e-3 fits all
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    model.train()
    for epoch in range(60):  # new negatives each time, as epochs draw them
        optimizer.zero_grad()
        model.calculate_loss(batch[:4], TrainingStep(epoch=epoch + 2)).backward()
        optimizer.step()
    model.eval()
    histories = model._histories(item_seq, lengths)
    candidate_lists = [[t] + [c for c in model._training_candidates(h, t, (1, row)) if c != t]  # other negatives
                       for row, (h, t) in enumerate(zip(histories, targets.tolist()))]
    scores = model._score_users(item_seq, lengths, batch[model.USER_ID][:4], candidate_lists).view(4, 20)
    margins = scores[:, 0] - scores[:, 1:].max(dim=1).values
    assert (margins > 1.0).all(), margins  # 3.2-8.9 nats here (both losses), over four draws of the training negatives


def test_loss_covers_only_the_target_title_and_eos(built):
    _, _, _, model = built
    input_ids, mask, labels = model.prompts.training_batch([[3, 4]], [[5, 6, 7]], [6])
    answer = model.prompts.target_ids(6)
    assert labels[0].tolist() == answer and answer[-1] == model.tokenizer.eos_token_id
    assert input_ids[0, -len(answer):].tolist() == answer


def test_answer_loss_equals_the_full_logits_loss_of_a_right_padded_batch(built):
    """Logits at the answer positions only, on left-padded rows: the same loss and gradients as transformers'
    ``labels=`` loss over every position of the same samples padded on the right."""
    from recbole_ilora.model.parts.losses import answer_loss

    _, _, _, model = built
    histories, candidates, targets = [[3, 4, 9, 10, 11], [5]], [[5, 6, 7], [1, 2, 8, 12]], [6, 12]
    input_ids, mask, labels = model.prompts.training_batch(histories, candidates, targets)
    items = [h + c for h, c in zip(histories, candidates)]
    gate = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4]])
    lora = [param for name, param in model.named_parameters() if "lora_B" in name]
    saved = [param.detach().clone() for param in lora]
    with torch.no_grad():
        for param in lora:
            param.normal_(0, 0.05)

    def loss_and_grads(compute):
        model.zero_grad()
        with model.router.route(gate):
            loss = compute()
        loss.backward()
        return loss.detach(), [param.grad.clone() for param in lora]

    ours = loss_and_grads(lambda: answer_loss(model.llm, model._input_embeds(input_ids, items), mask, labels))
    rows = [model.prompts.prompt_ids(h, c) + model.prompts.target_ids(t)
            for h, c, t in zip(histories, candidates, targets)]
    right_ids, right_mask = pad(rows, model.prompts.pad_token_id)
    right_labels = torch.full_like(right_ids, -100)
    for row, target in enumerate(targets):
        answer, end = model.prompts.target_ids(target), len(rows[row])
        right_labels[row, end - len(answer):end] = torch.tensor(answer)
    reference = loss_and_grads(lambda: model.llm(inputs_embeds=model._input_embeds(right_ids, items),
                                                 attention_mask=right_mask, labels=right_labels).loss)
    assert torch.allclose(ours[0], reference[0], atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ours[1], reference[1]))
    model.zero_grad()
    with torch.no_grad():
        for param, value in zip(lora, saved):
            param.copy_(value)


def test_adapter_round_trip_reproduces_scores(llm_setup, built, tmp_path):
    """The adapter holds only trained weights (no embedding matrix) and reproduces the scores in a rebuilt model."""
    from safetensors import safe_open

    _, _, (_, _, test_data), model = built
    model.eval()
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.1)
    interaction = first_batch(test_data)[0]
    before = model.predict(interaction)
    save_adapter(model, tmp_path / "adapter")
    assert {p.name for p in (tmp_path / "adapter").iterdir()} >= {
        "adapter_config.json", "adapter_model.safetensors", "ilora_modules.safetensors"}
    with safe_open(tmp_path / "adapter" / "adapter_model.safetensors", "pt") as saved:
        assert saved.keys() and all("lora_" in key for key in saved.keys())
    torch.manual_seed(12345)  # a rebuilt backbone must not depend on the RNG
    rebuilt = build_llm(llm_setup)[3].eval()
    load_adapter(rebuilt, tmp_path / "adapter")
    assert torch.allclose(rebuilt.predict(interaction), before, atol=1e-5)


def test_added_tokens_leave_pretrained_rows_and_start_at_their_mean(tiny_llama):
    from transformers import AutoModelForCausalLM

    from recbole_ilora.model.parts.backbone import add_prompt_rows, load_tokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    pretrained = model.get_input_embeddings().weight.detach().clone()
    tokenizer = load_tokenizer(tiny_llama, pretrained.shape[0])
    add_prompt_rows(model, tokenizer)
    weight = model.get_input_embeddings().weight.detach()
    assert weight.shape[0] == len(tokenizer) > pretrained.shape[0]
    assert torch.equal(weight[:pretrained.shape[0]], pretrained)
    assert torch.allclose(weight[pretrained.shape[0]:], pretrained.mean(0).expand_as(weight[pretrained.shape[0]:]))


@pytest.mark.parametrize("overrides, message", [
    ({"num_experts": 3}, "num_experts=3 must be a positive divisor of lora_r=16"),
    ({"lora_target_modules": ["q_proj", "qkv"]}, r"lora_target_modules \['qkv'\] are not linear layers"),
    ({"item_text_field": "title"}, "item_text_field 'title' is not a loaded item field"),
    ({"load_col": {"inter": ["user_id", "item_id", "timestamp"]}}, "item_text_field 'movie_title' is not a loaded"),
    ({"llm_path": "/nowhere/model"}, "llm_path '/nowhere/model' does not exist"),
    ({"item_domain": "book"}, "No prompt template for item_domain 'book'"),
    ({"prompt_template": "Watched {history}. Pick one."}, r"must name \{history\} and then \{candidates\}, once each"),
    ({"load_in_4bit": True}, "need a CUDA GPU"),
    ({"dtype": "int8"}, "dtype must be one of"),
    ({"gate_type": "attention"}, "gate_type must be one of linear, mlp"),
    ({"gate_input": "history"}, "gate_input must be ~ .sasrec. or one of sasrec, prompt, token"),
    ({"gate_input": "token", "gradient_checkpointing": True, "loss_type": "lm"}, "activation checkpointing's"),
])
def test_bad_config_values_fail_with_clear_errors(llm_setup, overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        build_llm(llm_setup, **overrides)


def test_items_without_titles_fail_at_load_time(llm_setup, tmp_path):
    root = write_atomic_dataset(tmp_path / "data")
    item_file = root / "tiny" / "tiny.item"
    lines = item_file.read_text().splitlines()
    item_file.write_text("\n".join(line.split("\t")[0] + "\t" if line.startswith(("i7\t", "i9\t")) else line
                                   for line in lines) + "\n")
    message = (r"tiny.item, line 8: empty movie_title \(2 such line" if int(pd.__version__.split(".")[0]) >= 3 else
               r"2 item\(s\) of dataset 'tiny' have no title in field 'movie_title' \(item ids i[79], i[79]\)")
    with pytest.raises(DataError, match=message):
        build_llm({**llm_setup, "base": {**llm_setup["base"], "data_path": str(root)}}, "TALLRec")  # no encoder


def test_text_only_ablation_needs_no_encoder(llm_setup):
    config, _, (train_data, _, _), model = build_llm(llm_setup, model="TALLRec", sasrec_checkpoint=None)
    assert config["num_experts"] == 1 and model.encoder is None and model.projector is None and model.gate is None
    assert "[HistoryEmb]" not in model.tokenizer.decode(model.prompts.prompt_ids([3, 4], [5, 6]))
    assert model.calculate_loss(first_batch(train_data)).item() > 0


def test_positions_ignore_left_padding():
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert position_ids_from_mask(mask).tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4]]


def test_encoder_run_is_the_sasrec_baseline_of_the_same_seed():
    """With an empty encoder_config, the encoder's SASRec run has the baseline's config hash, so either reuses the
    other; the default (capped epochs) is another experiment, whose result stays out of the leaderboard's folder."""
    from recbole_ilora.model.parts.sasrec_encoder import encoder_run_config

    for protocol in ("candidates20", "full"):
        ilora = Config("iLoRA", "ml-100k", cmd_args=[f"--protocol={protocol}", "--seed=7", "--encoder_config={}"])
        encoder = Config("SASRec", "ml-100k", config_dict=encoder_run_config(ilora))
        baseline = Config("SASRec", "ml-100k", cmd_args=[f"--protocol={protocol}", "--seed=7"])
        assert encoder.experiment_hash == baseline.experiment_hash
        assert encoder["results_dir"] == baseline["results_dir"]
    default = Config("iLoRA", "ml-100k", config_dict={"results_dir": "out"})
    encoder = Config("SASRec", "ml-100k", config_dict=encoder_run_config(default))
    assert encoder["epochs"] == default["encoder_config"]["epochs"] < baseline["epochs"]
    assert encoder["results_dir"] == "out/encoders"


def test_lm_term_of_the_softmax_pass_equals_the_answer_loss(built):
    """``lm+softmax`` takes its lm term from the packed candidates pass (target title over the prompt's cache): it
    must be the loss of the prompt with the answer appended, and so must its gradients."""
    from recbole_ilora.model.parts.losses import answer_loss, candidate_losses
    from recbole_ilora.model.parts.scoring import continuation_logprobs

    _, _, _, model = built
    model.train()
    histories, candidates, targets = [[3, 4, 5], [7]], [[9, 11, 13, 6], [2, 8, 10, 12]], [11, 12]
    gate = torch.softmax(torch.randn(2, model.num_experts), dim=-1)
    lora = [param for name, param in model.named_parameters() if ".lora_B" in name][:3]

    def loss_and_grads(compute):
        model.zero_grad()
        loss = compute()
        loss.backward()
        return loss.detach(), [param.grad.clone() for param in lora]

    def appended():
        input_ids, mask, labels = model.prompts.training_batch(histories, candidates, targets)
        with model.router.route(gate):
            return answer_loss(model.llm, model._input_embeds(input_ids, [h + c for h, c in zip(histories, candidates)]),
                               mask, labels)

    def packed():
        embeds, mask = model._encode_prompts(histories, candidates, "cpu")
        continuations, owners = model._candidate_continuations(candidates, "cpu")
        logprobs = continuation_logprobs(model.llm, model.router, embeds, mask, gate, continuations, owners).view(2, 4)
        lengths = torch.tensor([len(model.prompts.target_ids(t)) for t in targets])
        return candidate_losses(logprobs, torch.tensor([1, 3]), lengths)[1]

    with torch.no_grad():  # LoRA B starts at zero: give it weights so that its gradients mean something
        for param in lora:
            param.normal_(0, 0.1)
    expected, expected_grads = loss_and_grads(appended)
    got, grads = loss_and_grads(packed)
    assert got.item() == pytest.approx(expected.item(), abs=1e-5)
    for grad, reference in zip(grads, expected_grads):
        assert torch.allclose(grad, reference, atol=1e-5)
    with torch.no_grad():
        for param in lora:
            param.zero_()


@pytest.mark.parametrize("progress, text_only", [(0.0, True), (1.0, False)])
def test_curriculum_starts_text_only_and_ends_hybrid(llm_setup, progress, text_only):
    _, _, (train_data, _, _), model = build_llm(llm_setup, curriculum=True)
    model.train()
    model.calculate_loss(first_batch(train_data), TrainingStep(step=int(progress * 10), total_steps=10)).backward()
    assert model.training_statistics()["text_only"] == float(text_only)
    projector_grads = [p.grad for p in model.projector.parameters()]
    assert all(g is None for g in projector_grads) == text_only  # the projector is idle on text-only batches


@pytest.mark.parametrize("key, value", [("loss_type", "ranknet"), ("score_reduction", "max")])
def test_unknown_loss_or_reduction_is_refused(llm_setup, key, value):
    with pytest.raises(ConfigurationError, match=f"{key} must be one of"):
        build_llm(llm_setup, **{key: value})


def test_eval_users_evaluates_a_fixed_subset_on_the_same_candidates(llm_setup):
    from recbole_ilora.data import candidates_fingerprint

    _, _, (_, full_valid, full_test), _ = build_llm(llm_setup)
    config, _, (_, valid, test), _ = build_llm(llm_setup, eval_users=7)
    users = set(test._dataset.inter_feat["user_id"].tolist())
    assert len(users) == 7 and users == set(valid._dataset.inter_feat["user_id"].tolist())
    assert users == set(build_llm(llm_setup, eval_users=7)[2][2]._dataset.inter_feat["user_id"].tolist())  # fixed by seed
    kept = [next(iter(full_test))[0], next(iter(test))[0]]
    for interaction in kept:  # every kept user's 20 rows are the full run's rows for that user
        assert len(interaction) % 20 == 0
    full_rows = {(u, i) for u, i in zip(kept[0]["user_id"].tolist(), kept[0]["item_id"].tolist())}
    subset_rows = [(u, i) for u, i in zip(kept[1]["user_id"].tolist(), kept[1]["item_id"].tolist())]
    assert all(row in full_rows for row in subset_rows if row[0] in {u for u, _ in full_rows})
    assert candidates_fingerprint(test) != candidates_fingerprint(full_test)


def test_scoring_passes_the_kv_cache_under_the_installed_transformers_name(built):
    """transformers 5.24 warns on every call that passes ``past_key_values`` (gone in 5.40): the scoring pass and the
    softmax loss use the name of the installed version."""
    import warnings

    _, _, (_, _, test_data), model = built
    model.eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*past_key_values.*deprecated")
        model.predict(first_batch(test_data)[0])


@pytest.mark.parametrize("gate_input", ["prompt", "token"])
def test_the_routing_studys_gates_train_score_and_stay_small(llm_setup, gate_input):
    """Routing from the prompt's mean input embedding (one gate per sequence) or per token (one gate shared by every
    decoder layer, reading the hidden state entering it): the gate learns, scoring matches the uncached pass, and
    each costs no more than 1% of the trainable weights, like iLoRA's."""
    _, _, (train_data, _, test_data), model = build_llm(llm_setup, gate_input=gate_input)
    assert model.gate.net.in_features == model.llm.config.hidden_size
    hidden, experts = model.llm.config.hidden_size, model.num_experts  # one linear gate, shared by every layer:
    assert sum(p.numel() for p in model.gate.parameters()) == hidden * experts + experts  # SmolLM2: 2,308 = 0.04%
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.calculate_loss(first_batch(train_data)).backward()  # LoRA's B starts at zero: move it once
    optimizer.step()
    model.zero_grad()
    model.calculate_loss(first_batch(train_data)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.gate.parameters())
    model.eval()
    interaction = first_batch(test_data)[0]
    starts, candidate_lists = model._user_groups(interaction)
    item_seq, lengths = interaction[model.ITEM_SEQ][starts], interaction[model.ITEM_SEQ_LEN][starts]
    cached = model._score_users(item_seq, lengths, interaction[model.USER_ID][starts], candidate_lists)
    _, _, gates, shown = model._prompts(item_seq, lengths, interaction[model.USER_ID][starts], candidate_lists)
    assert (gates is None) == (gate_input == "token")
    histories = model._histories(item_seq, lengths)
    expected = naive_scores(model, histories[0], shown[0], None if gates is None else gates[0:1])
    order = {item: i for i, item in enumerate(shown[0])}
    assert torch.allclose(cached[:20], expected[[order[item] for item in candidate_lists[0]]], atol=1e-4)


def test_settings_that_do_nothing_here_are_said_before_any_work(llm_setup, caplog):
    """An encoder_config beside a given sasrec_checkpoint, and more training prompts per epoch than the data has,
    change nothing the run computes: each is a warning, not silence."""
    config = Config("iLoRA", "tiny", config_dict={
        **llm_setup["base"], "llm_path": llm_setup["llm"], "sasrec_checkpoint": llm_setup["encoder"],
        "encoder_config": {"epochs": 3}, "item_domain": "movie", "item_text_field": "movie_title",
        "train_samples_per_epoch": 100_000})
    model_class = get_model("iLoRA")
    with caplog.at_level("WARNING"):
        model_class.checks.check_config(config)
        model_class.checks.check_dataset(config, load_dataset(config))
    assert "with sasrec_checkpoint given it is ignored" in caplog.text
    assert "train_samples_per_epoch=100000 is above the" in caplog.text and "each epoch trains on all" in caplog.text
