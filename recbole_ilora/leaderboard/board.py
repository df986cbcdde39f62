"""One dataset's leaderboard as numbers: per-model summaries, iLoRA's improvement and significance, costs, gates.

``tables``, ``plots`` and ``report`` render a ``Board``; nothing here formats text.
"""

from dataclasses import dataclass, field

from recbole_ilora.leaderboard import stats
from recbole_ilora.leaderboard.collect import encoder_hash, encoder_result

# Test-set keys of the JSON result and their column headers: the ranking metrics of the paper's protocol.
RANKING_COLUMNS = (("hit@1", "Hit@1"), ("hit@3", "Hit@3"), ("hit@5", "Hit@5"), ("ndcg@3", "NDCG@3"),
                   ("ndcg@5", "NDCG@5"))
# The paper's generation metrics, written by LLM runs with generation_eval=True: columns only where present.
GENERATION_COLUMNS = (("generation_valid_ratio", "ValidRatio"), ("generation_hr@1", "HR@1 (gen.)"))

# What the generation table shows of each generation run: the decoded answers' metrics beside the same run's scored
# Hit@1 (a generation run scores the candidates too).
GENERATED = (("generation_valid_ratio", "ValidRatio"), ("generation_hr@1", "HR@1 (gen.)"),
             ("generation_hr@1_of_valid", "HR@1 of valid answers"), ("hit@1", "Hit@1 (scored, same run)"))

# The headline metrics on which the reference is tested against every other model, seed by seed and across seeds.
PAIRWISE_METRICS = ("hit@1", "ndcg@5")

FLOOR_MODEL = "Pop"  # the popularity ranking every recommender must beat; the reference is tested against it

# Cost keys: name -> how to read it from a JSON result.
COSTS = {
    "train_s": lambda r: r["time_s"]["train"],  # fit: training epochs and their validations
    "eval_s": lambda r: r["time_s"]["test"],  # test evaluation (and generation metrics, if enabled)
    "prerequisites_s": lambda r: r["time_s"].get("prerequisites"),  # iLoRA: training its SASRec encoder, if it had to
    "peak_rss_mb": lambda r: r["peak_memory_mb"]["rss"],
    "peak_cuda_mb": lambda r: r["peak_memory_mb"].get("cuda"),
    "trainable_params": lambda r: r["parameters"]["trainable"],
    "total_params": lambda r: r["parameters"]["total"],
    "epochs": lambda r: r["epochs_trained"],
}


@dataclass(frozen=True)
class Encoder:
    """The frozen SASRec one LLM run used: its config hash and, where its JSON result was found, that result."""

    seed: int
    config_hash: str
    result: dict | None


@dataclass
class Board:
    dataset: str
    protocol: str
    models: list  # those with at least one run, in the requested order
    columns: list  # [(key, header)]
    summary: dict  # model -> key -> stats.Summary | None
    cost: dict  # model -> cost name -> stats.Summary | None
    reference: str | None = None  # the model the others are compared with (iLoRA), if it ran
    improvement: dict = field(default_factory=dict)  # other model -> key -> % of the reference over it
    significance: list = field(default_factory=list)  # [stats.Significance], one per column
    gates: list = field(default_factory=list)  # [stats.GateSummary] of the reference's runs
    seeds: dict = field(default_factory=dict)  # model -> number of runs
    random: dict | None = None  # key -> expected value of a random ranking (sampled candidates only)
    pop_tests: dict = field(default_factory=dict)  # key -> stats.Significance of the reference against Pop
    pairwise: list = field(default_factory=list)  # [stats.PairwiseTests]: every other model x PAIRWISE_METRICS
    same_candidates: bool = True  # False: its models ranked different candidates (reported only when allowed)
    encoders: dict = field(default_factory=dict)  # LLM model -> [Encoder], one per run
    encoder_tests: dict = field(default_factory=dict)  # LLM model -> stats.Significance on Hit@1 against its encoders
    intervals: dict = field(default_factory=dict)  # model -> ranking key -> (mean, low, high) over users, or None
    generation: dict = field(default_factory=dict)  # LLM model -> key of GENERATED -> stats.Summary | None
    generation_seeds: dict = field(default_factory=dict)  # LLM model -> number of its generation runs

    def best_other(self, key):
        """The non-reference model with the highest mean on ``key`` (None if none has it)."""
        others = [(s[key].mean, m) for m, s in self.summary.items() if m != self.reference and s.get(key)]
        return max(others, key=lambda pair: pair[0])[1] if others else None


def _cost_summary(results):
    def read(getter, result):
        try:
            return getter(result)
        except (KeyError, TypeError):
            return None

    return {name: stats.summarize([read(getter, r) for r in results]) for name, getter in COSTS.items()}


def sampled_candidates(results):
    """Candidates per test user when the runs rank sampled candidates (positive + N negatives), else None."""
    counts = set()
    for result in results:
        sampled = result["config"].get("test_neg_sample_args") or {}
        if sampled.get("distribution") != "uniform" or not isinstance(sampled.get("sample_num"), int):
            return None
        counts.add(sampled["sample_num"] + 1)
    return counts.pop() if len(counts) == 1 else None


def random_row(columns, candidates):
    """The analytic reference row: each ranking metric's expectation under a uniformly random ranking."""
    if candidates is None:
        return None
    return {key: (stats.random_ranking_metric(key, candidates) if stats.has_per_user_form(key) else None)
            for key, _ in columns}


def build_board(collection, dataset, reference="iLoRA", generation_runs=None):
    """``generation_runs``: a ``Collection`` of the LLM models' generation runs (their experiments with
    ``generation_eval: True``), shown in a table of their own; the other tables hold ``collection``'s runs only."""
    models = [model for model in collection.models if collection.of(dataset, model)]
    results = {model: collection.results(dataset, model) for model in models}
    generation = [c for c in GENERATION_COLUMNS if any(c[0] in r["test"] for rs in results.values() for r in rs)]
    columns = list(RANKING_COLUMNS) + generation
    board = Board(
        dataset=dataset,
        protocol=collection.protocols[dataset],
        models=models,
        columns=columns,
        summary={m: {key: stats.summarize([r["test"].get(key) for r in results[m]]) for key, _ in columns}
                 for m in models},
        cost={m: _cost_summary(results[m]) for m in models},
        reference=reference if reference in models else None,
        seeds={m: len(results[m]) for m in models},
        random=random_row(columns, sampled_candidates([r for rs in results.values() for r in rs])),
        same_candidates=dataset not in collection.incomparable,
    )
    board.intervals = {m: {key: stats.pooled_interval(results[m], key) for key, _ in RANKING_COLUMNS} for m in models}
    _add_encoders(board, collection, dataset)
    _add_generation(board, generation_runs, dataset)
    if board.reference is None:
        return board
    mine = board.summary[reference]
    for model in models:
        if model != reference:
            board.improvement[model] = {
                key: stats.relative_improvement(stats.mean_of(mine[key]), stats.mean_of(board.summary[model][key]))
                for key, _ in columns
            }
    for key, _ in columns:
        best = board.best_other(key)
        if best is not None and mine.get(key) is not None:
            board.significance.append(stats.significance(results[reference], results[best], key, reference, best))
        if FLOOR_MODEL in results and FLOOR_MODEL != reference and mine.get(key) is not None \
                and stats.has_per_user_form(key):
            board.pop_tests[key] = stats.significance(results[reference], results[FLOOR_MODEL], key, reference,
                                                      FLOOR_MODEL)
    board.pairwise = [stats.pairwise_tests(results[reference], results[model], key, reference, model)
                      for model in models if model != reference for key in PAIRWISE_METRICS if mine.get(key)]
    board.gates = [g for g in map(stats.gate_summary, results[reference]) if g is not None]
    return board


def _add_encoders(board, collection, dataset):
    """Which encoder each LLM run used, how good it was, and whether the LLM model beat it (Hit@1, paired over
    users): an LLM recommender below its own frozen encoder adds nothing to it."""
    for model in board.models:
        runs = [run for run in collection.of(dataset, model) if encoder_hash(run)]
        if not runs:
            continue
        board.encoders[model] = [Encoder(run.seed, encoder_hash(run), encoder_result(run)) for run in runs]
        found = [encoder.result for encoder in board.encoders[model] if encoder.result is not None]
        if found:
            board.encoder_tests[model] = stats.significance([run.result for run in runs], found, "hit@1", model,
                                                            "its encoder")


def _add_generation(board, generation_runs, dataset):
    """The generation runs' metrics per LLM model (``generation_runs``: a ``Collection``, or None)."""
    for model in (generation_runs.models if generation_runs else []):
        runs = generation_runs.results(dataset, model)
        if runs:
            board.generation[model] = {key: stats.summarize([r["test"].get(key) for r in runs]) for key, _ in GENERATED}
            board.generation_seeds[model] = len(runs)


def build_boards(collection, reference="iLoRA", generation_runs=None):
    """One ``Board`` per dataset that has results, in the requested order (``generation_runs``: see
    ``build_board``)."""
    return [build_board(collection, dataset, reference, generation_runs) for dataset in collection.datasets
            if any(collection.of(dataset, model) for model in collection.models)]


def gate_runs(collection, model="iLoRA"):
    """``{dataset: [result, ...]}`` of ``model``'s runs that logged gate weights (for the gate plot)."""
    found = {}
    for dataset in collection.datasets:
        runs = [r for r in collection.results(dataset, model) if (r.get("gate_weights") or {}).get("weights")]
        if runs:
            found[dataset] = runs
    return found
