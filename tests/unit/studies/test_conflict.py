"""The conflict study: gradients built to conflict between distant clusters are reported as conflicting, and the
LoRA gradient of a cluster's training samples is taken on the adapters only."""

import numpy as np
import torch

from recbole_ilora.studies.conflict import ADAPTER_MARKER, adapter_gradient, analyse_conflict, training_sample


def test_gradients_that_oppose_with_distance_are_reported_as_conflict():
    centres = np.array([[float(c), 0.0] for c in range(6)])  # clusters on a line
    angles = np.linspace(0, np.pi, 6)  # the farther apart, the more opposed
    gradients = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    analysis = analyse_conflict(gradients, centres)
    assert analysis.negative_share > 0.2 and analysis.distance_rho < -0.9 and analysis.distance_p < 0.01
    aligned = analyse_conflict(np.ones((6, 2)) + 0.01 * np.arange(12).reshape(6, 2), centres)
    assert aligned.negative_share == 0 and aligned.mean_off_diagonal > 0.99


def test_a_clusters_sample_is_seeded_and_its_gradient_is_the_adapters_only(built):
    config, _, (train, _, _), model = built
    dataset = train._dataset
    users = np.unique(dataset.inter_feat[dataset.uid_field].numpy())[:5]
    rows = training_sample(dataset, users, 6, seed=1, cluster=0)
    assert len(rows) == 6 and (rows == training_sample(dataset, users, 6, seed=1, cluster=0)).all()
    assert set(dataset.inter_feat[dataset.uid_field][torch.from_numpy(rows)].tolist()) <= set(users.tolist())
    model.train()
    gradient = adapter_gradient(model, dataset.inter_feat[torch.from_numpy(rows)], batch_size=4)
    adapters = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and ADAPTER_MARKER in n)
    assert gradient.shape == (adapters,) and np.isfinite(gradient).all() and np.abs(gradient).sum() > 0
    assert adapters < sum(p.numel() for p in model.parameters() if p.requires_grad)  # projector and gate left out
