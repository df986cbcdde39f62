"""Maps collaborative item embeddings into the LLM's token-embedding space (the paper's MLP)."""

from torch import nn


class Projector(nn.Sequential):
    """``Linear(d, H) -> GELU -> Linear(H, H)``: SASRec item embedding (d) to one LLM input embedding (H)."""

    def __init__(self, item_dim, llm_dim):
        super().__init__(nn.Linear(item_dim, llm_dim), nn.GELU(), nn.Linear(llm_dim, llm_dim))
