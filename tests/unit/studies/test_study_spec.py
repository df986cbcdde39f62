"""A study file is checked before any run: each mistake is one error naming the file and what to fix."""

import pytest

from recbole_ilora.errors import ConfigurationError
from recbole_ilora.studies.spec import available_studies, load_spec, parse_spec

MINIMAL = {"title": "t", "claim": "c", "reference": "a",
           "arms": {"a": {"model": "iLoRA"}, "b": {"model": "LoRARec", "keys": {"lora_r": 8}}}}


def test_every_committed_study_file_loads():
    for name in available_studies():
        spec = load_spec(name)
        assert spec.reference in spec.arms and all(c.better in spec.arms for c in spec.claims)


def test_a_minimal_spec_gets_the_defaults():
    spec = parse_spec("s", {**MINIMAL, "claims": [{"better": "a", "worse": "b"}]}, "s.yaml")
    assert spec.metrics == ("hit@1", "ndcg@5") and spec.arms["a"].protocol == "candidates20"
    assert spec.claims[0].metric == "hit@1" and spec.arms["b"].keys == {"lora_r": 8}
    assert spec.datasets == ("ml-100k",) and spec.arms["a"].runs_on("lastfm")


@pytest.mark.parametrize("change, message", [
    ({"arms": {}}, "arms must be a non-empty mapping"),
    ({"reference": "c"}, "reference 'c' is not one of the arms"),
    ({"claims": [{"better": "a", "worse": "z"}]}, "'z' is not one of the arms"),
    ({"claims": [{"better": "a"}]}, "a claim is {better: ARM, worse: ARM, metric: METRIC}"),
    ({"arms": {"a": {"model": "iLoRA", "protocol": "nope"}}}, "unknown protocol 'nope'"),
    ({"arms": {"a": {"model": "iLoRA", "kyes": {}}}}, "arm 'a' must be a mapping with 'model'"),
    ({"arms": {"a": {"model": "iLoRA", "keys": [1]}}}, "arm 'a' keys must be a mapping"),
    ({"budget": 1}, "unknown key(s) ['budget']"),
    ({"analysis": "magic"}, "unknown analysis 'magic'"),
    ({"default_arms": ["b"]}, "default_arms must be arms of the study and hold the reference 'a'"),
    ({"datasets": "ml-100k"}, "datasets must be a non-empty list of dataset names"),
    ({"arms": {"a": {"model": "iLoRA", "datasets": []}}}, "arm 'a' datasets must be a non-empty list"),
    # keys the study sets for each run, which an arm's value would clash with (it was a "cannot plan" per run)
    ({"arms": {"a": {"model": "iLoRA"}, "b": {"model": "SASRec", "keys": {"seed": 7, "dataset": "lastfm"}}}},
     "arm 'b' keys may not set seed: the study sets it (--seeds)."),
    ({"llm_keys": {"results_dir": "x"}}, "llm_keys may not set results_dir: the study sets it (--results_dir"),
    ({"keys": {"protocol": "full"}}, "keys may not set protocol: the study sets it (an arm's protocol)."),
    # a claim on a metric the tables do not hold was "not testable" after every run
    ({"metrics": ["hit@1"], "claims": [{"better": "a", "worse": "b", "metric": "mrr@7"}]},
     "metric 'mrr@7' is not one of the study's metrics ['hit@1']: add it to metrics, or name one of them."),
    ({"metrics": ["mrr@7"]}, "metrics must be a non-empty list of hit@K and ndcg@K"),
    ({"arms": {"a": {"model": "SASrec"}}}, "arm 'a': Unknown model 'SASrec' (--model). Did you mean: SASRec"),
    ({"reference": ["a"]}, "reference ['a'] is not one of the arms"),  # was an unhashable-list TypeError
    ({"claims": [{"better": "a", "worse": "a"}]}, "a claim compares two arms, got 'a' against itself."),
    ({"claims": [{"better": ["a"], "worse": "b"}]}, "['a'] is not one of the arms"),
])
def test_mistakes_in_a_spec_are_named(change, message):
    with pytest.raises(ConfigurationError, match="s.yaml: ") as error:
        parse_spec("s", {**MINIMAL, **change}, "s.yaml")
    assert message in str(error.value)


def test_unknown_studies_and_missing_files_are_named(tmp_path):
    with pytest.raises(ConfigurationError, match="Unknown study 'nope'; known: .*experts"):
        load_spec("nope")
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_spec(str(tmp_path / "missing.yaml"))
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(ConfigurationError, match="folder.yaml is a folder; name a UTF-8 text file"):
        load_spec(str(tmp_path / "folder.yaml"))
    (tmp_path / "latin.yaml").write_bytes("title: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigurationError, match=r"latin.yaml is not UTF-8 text \(line 1: invalid"):
        load_spec(str(tmp_path / "latin.yaml"))
    with pytest.raises(ConfigurationError, match="plain name"):
        load_spec("../overall")
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: t\ntitle: u\n")
    with pytest.raises(ConfigurationError, match="key 'title' is given twice"):
        load_spec(str(broken))
