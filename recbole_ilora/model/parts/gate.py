"""The instance-wise gate: one softmax over the experts per sequence, from its collaborative representation."""

import torch
from torch import nn

from recbole_ilora.errors import ConfigurationError

GATE_TYPES = ("linear", "mlp")
GATE_INPUTS = (None, "sasrec", "prompt", "token")  # what the gate reads (None: sasrec)


class Gate(nn.Module):
    """``g_u = softmax(W z_u / temperature)``; ``gate_type: mlp`` puts a GELU hidden layer before W.

    One vector per sequence (from its SASRec representation or its prompt), shared by every layer and target
    module; or, routing per token, one vector per token of each decoder layer's input.
    """

    def __init__(self, in_dim, num_experts, gate_type="linear", temperature=1.0):
        super().__init__()
        self.check(gate_type, temperature)
        self.temperature = float(temperature)
        if gate_type == "linear":
            self.net = nn.Linear(in_dim, num_experts)
        else:
            self.net = nn.Sequential(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, num_experts))

    @staticmethod
    def check(gate_type, temperature):
        """The config values a gate can be built from (``gate_type``, ``gate_temperature``)."""
        if gate_type not in GATE_TYPES:
            raise ConfigurationError(f"gate_type must be one of {', '.join(GATE_TYPES)}, got {gate_type!r}.")
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ConfigurationError(f"gate_temperature must be a positive number, got {temperature!r}.")

    def forward(self, sequence_repr):
        return torch.softmax(self.net(sequence_repr) / self.temperature, dim=-1)
