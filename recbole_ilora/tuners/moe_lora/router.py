"""The router: carries one forward pass's per-sequence gate to every MoE-LoRA layer of a model."""

from contextlib import contextmanager, nullcontext


class GateRouter:
    """Carries one forward pass's per-sequence gate to every MoE-LoRA layer.

    ``with router.route(gate):`` sets the gate, a ``(batch, K)`` tensor whose rows sum to 1, for the forward
    passes inside the block. Each row applies to one sequence of the batch; a single row applies to all.
    """

    def __init__(self, num_experts, rank):
        self.num_experts = num_experts
        self.rank = rank
        self._weights = None

    @contextmanager
    def route(self, gate):
        if gate.dim() != 2 or gate.shape[1] != self.num_experts:
            raise ValueError(f"gate must have shape (batch, {self.num_experts}), got {tuple(gate.shape)}")
        # Each expert's weight repeated over its r/K ranks, times K: with the layer's scaling alpha/r this gives
        # the per-expert scaling alpha/r_e of the iLoRA paper, and plain LoRA exactly when K = 1.
        self._weights = gate.repeat_interleave(self.rank // self.num_experts, dim=1) * self.num_experts
        try:
            yield
        finally:
            self._weights = None

    @contextmanager
    def _restored(self, weights):
        previous, self._weights = self._weights, weights
        try:
            yield
        finally:
            self._weights = previous

    def checkpoint_contexts(self):
        """``context_fn`` of ``torch.utils.checkpoint``: a checkpointed layer's recomputation in the backward pass
        runs outside ``route``, so it gets the gate its forward pass had."""
        return nullcontext(), self._restored(self._weights)

    def rank_weights(self, hidden):
        """The gate in a shape that broadcasts over ``hidden`` (``batch, ..., r``)."""
        if self._weights is None:
            raise RuntimeError("A MoE-LoRA layer ran without a gate: call the model inside `router.route(gate)`.")
        weights = self._weights
        if weights.shape[0] not in (1, hidden.shape[0]):
            raise ValueError(f"gate batch {weights.shape[0]} does not match the input batch {hidden.shape[0]}")
        return weights.view(weights.shape[0], *([1] * (hidden.dim() - 2)), -1).to(hidden.dtype)
