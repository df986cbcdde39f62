"""The router: carries one forward pass's gate to every MoE-LoRA layer of a model, per sequence or per token."""

from contextlib import contextmanager, nullcontext


class GateRouter:
    """Carries one forward pass's gate to every MoE-LoRA layer.

    ``with router.route(gate):`` sets a per-sequence gate, a ``(batch, K)`` tensor whose rows sum to 1, for the
    forward passes inside the block. Each row applies to one sequence of the batch; a single row applies to all.
    ``with router.route(None):`` routes per token instead: at each decoder layer, the token gate given to
    ``use_token_gate`` maps the hidden state entering the layer to a ``(batch, tokens, K)`` gate for its modules.
    """

    def __init__(self, num_experts, rank):
        self.num_experts = num_experts
        self.rank = rank
        self.token_gate = None
        self._weights = None
        self._per_token = False

    def use_token_gate(self, token_gate, layers):
        """Route ``route(None)`` passes per token: ``token_gate`` maps ``(..., hidden)`` to ``(..., K)`` gates, and
        each of ``layers`` (the backbone's decoder layers) sets it from its input before its modules run."""
        self.token_gate = token_gate
        for layer in layers:
            layer.register_forward_pre_hook(self._gate_tokens, with_kwargs=True)

    def _gate_tokens(self, layer, args, kwargs):
        if self._per_token:
            hidden = args[0] if args else kwargs["hidden_states"]
            self._weights = self._expand(self.token_gate(hidden.float()))

    def _expand(self, gate):
        # Each expert's weight repeated over its r/K ranks, times K: with the layer's scaling alpha/r this gives
        # the per-expert scaling alpha/r_e of the iLoRA paper, and plain LoRA exactly when K = 1.
        return gate.repeat_interleave(self.rank // self.num_experts, dim=-1) * self.num_experts

    @contextmanager
    def route(self, gate):
        if gate is None:
            if self.token_gate is None:
                raise ValueError("route(None) routes per token and needs a token gate (use_token_gate)")
            self._per_token = True
        elif gate.dim() != 2 or gate.shape[1] != self.num_experts:
            raise ValueError(f"gate must have shape (batch, {self.num_experts}), got {tuple(gate.shape)}")
        else:
            self._weights = self._expand(gate)
        try:
            yield
        finally:
            self._weights, self._per_token = None, False

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
        if weights.dim() == 3:  # per token: (batch, tokens, r), the layer's own tokens
            if weights.shape[:2] != hidden.shape[:2]:
                raise ValueError(f"token gate {tuple(weights.shape[:2])} does not match the input {tuple(hidden.shape[:2])}")
            return weights.to(hidden.dtype)
        if weights.shape[0] not in (1, hidden.shape[0]):
            raise ValueError(f"gate batch {weights.shape[0]} does not match the input batch {hidden.shape[0]}")
        return weights.view(weights.shape[0], *([1] * (hidden.dim() - 2)), -1).to(hidden.dtype)
