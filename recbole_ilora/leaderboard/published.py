"""Published results on the papers' own test samples, set beside this leaderboard's: the LLaRA split of LastFM
(``prepare_dataset llara-ref --variant lastfm``, protocol ``llara``), which LLaRA and iLoRA both report on.

Each figure names its source and whether it was checked against that source from this project's machines (the
papers' result tables could not be reached here: their figures are as the project's issue 20 quotes them).
"""

from dataclasses import dataclass

LLAMA2 = "Llama-2-7B"
REFERENCE_BUDGET = "5 epochs over every training sample, batch 8 x 16 accumulated, lr 7e-4 (train_lastfm.sh)"
LLARA_TABLE = "LLaRA paper (Liao et al., arXiv 2312.02445), Table 2, LastFM"
LLARA_README = "LLaRA README after its 2024-07 fixes (ljy0ustc/LLaRA@9733f73, README.md line 10)"
ILORA_REBUTTAL = "iLoRA rebuttal (OpenReview, NeurIPS 2024), LastFM"


@dataclass(frozen=True)
class PublishedResult:
    """One published figure and the model of this package that plays its part (None: no counterpart here)."""

    model: str  # as the source names it
    ours: str | None
    metric: str  # the JSON result's test key it corresponds to
    value: float
    backbone: str
    budget: str
    source: str
    verified: bool  # checked against the source itself


def _rebuttal(model, ours, values):
    metrics = ("hit@3", "hit@5", "ndcg@3", "ndcg@5")
    budget = REFERENCE_BUDGET if ours != "SASRec" else "-"
    return [PublishedResult(model, ours, metric, value, LLAMA2 if ours != "SASRec" else "-", budget, ILORA_REBUTTAL,
                            False) for metric, value in zip(metrics, values)]


PUBLISHED = {
    "llara-lastfm": [
        PublishedResult("GRU4Rec", "GRU4Rec", "hit@1", 0.2616, "-", "-", LLARA_TABLE, False),
        PublishedResult("Caser", "Caser", "hit@1", 0.2233, "-", "-", LLARA_TABLE, False),
        PublishedResult("SASRec", "SASRec", "hit@1", 0.2233, "-", "-", LLARA_TABLE, False),
        PublishedResult("TALLRec", "TALLRec", "hit@1", 0.4180, LLAMA2, "-", LLARA_TABLE, False),
        PublishedResult("LLaRA", "LoRARec", "hit@1", 0.4508, LLAMA2, "-", LLARA_TABLE, False),
        PublishedResult("LLaRA (SASRec)", "LoRARec", "hit@1", 0.5246, LLAMA2, REFERENCE_BUDGET, LLARA_README, True),
        *_rebuttal("iLoRA", "iLoRA", (0.7873, 0.8350, 0.6894, 0.7530)),
        *_rebuttal("LLaRA", "LoRARec", (0.7223, 0.7862, 0.6016, 0.6972)),
        *_rebuttal("SASRec", "SASRec", (0.4253, 0.4792, 0.3382, 0.4073)),
    ],
}

# What is known of a source no figure above could be taken from.
UNREACHED = {
    "llara-lastfm": [
        "The iLoRA paper's own LastFM row (Kong et al., arXiv 2408.10159, main results table) could not be read "
        "from this project's machines (only its abstract was reachable, and the reference repository "
        "AkaliKong/iLoRA publishes no results), so it is not in the table.",
    ],
}
