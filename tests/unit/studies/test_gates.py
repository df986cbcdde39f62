"""The gates study's analysis: a gate built to specialise by cluster is reported specialised, a uniform one
collapsed, one independent of the clusters not specialised; users' SASRec points come from the encoder a run used."""

import numpy as np

from recbole_ilora.config import Config
from recbole_ilora.studies.gates import analyse_gates, gate_matrix, summary_lines, table
from recbole_ilora.studies.user_clusters import clusters, points_of_test_users

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 4, size=400)


def test_a_gate_that_follows_the_clusters_is_specialised():
    weights = np.full((400, 4), 0.1)
    weights[np.arange(400), LABELS] = 0.7  # each cluster's own expert
    analysis = analyse_gates(weights, LABELS, 4)
    assert analysis.agreement == 1.0 and analysis.p_value < 0.01 and analysis.nmi > 0.99
    assert analysis.verdict.startswith("specialised")
    assert np.allclose(analysis.cluster_means.diagonal(), 0.7)
    assert "expert 3" in table(analysis) and "0.700" in table(analysis)
    assert "verdict: **specialised" in summary_lines(analysis)[-1]


def test_a_uniform_gate_is_collapsed_and_a_random_one_is_not_specialised():
    assert analyse_gates(np.full((400, 4), 0.25), LABELS, 4).verdict.startswith("collapsed")
    random = RNG.dirichlet(np.ones(4) * 0.5, size=400)
    analysis = analyse_gates(random, LABELS, 4)
    assert analysis.p_value > 0.01 and analysis.verdict.startswith("not specialised")


def test_gate_weights_are_read_in_the_users_order_or_not_at_all():
    result = {"gate_weights": {"user": ["a", "b"], "weights": [[0.9, 0.1], [0.2, 0.8]]}}
    assert gate_matrix(result, ["b", "a"]).tolist() == [[0.2, 0.8], [0.9, 0.1]]
    assert gate_matrix(result, ["a", "c"]) is None and gate_matrix({}, ["a"]) is None


def test_every_test_user_gets_the_encoders_point_of_their_test_history(llm_setup):
    config = Config("iLoRA", "tiny", config_dict={**llm_setup["base"], "llm_path": llm_setup["llm"],
                                                  "item_domain": "movie", "item_text_field": "movie_title"})
    points = points_of_test_users(config, llm_setup["encoder"])
    assert len(points.users) == len(set(points.users)) == 30 and points.points.shape[0] == 30
    assert np.isfinite(points.points).all() and points.points.std(0).max() > 0
    labels, centres = clusters(points.points, 3, seed=0)
    assert sorted(set(labels.tolist())) == [0, 1, 2] and centres.shape == (3, points.points.shape[1])
    assert (clusters(points.points, 3, seed=0)[0] == labels).all()  # seeded


def test_the_permutation_null_is_seeded():
    weights, labels = RNG.dirichlet(np.ones(4), size=100), RNG.integers(0, 8, size=100)
    first, again = analyse_gates(weights, labels, 8, seed=1), analyse_gates(weights, labels, 8, seed=1)
    assert (first.p_value, first.null_agreement) == (again.p_value, again.null_agreement)
