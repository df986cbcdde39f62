"""The execution study: its runs are planned with the right process count, and its table pairs users with the
one-thread run."""

import json

from recbole_ilora.studies import execution


def write_way(out, way, ranks, threads, processes):
    folder = out / execution.WAYS[way][0] / execution.DATASET / execution.PROTOCOL
    folder.mkdir(parents=True)
    result = {"seed": 2020, "threads": threads, "world_size": processes, "config": {},
              "test": {"hit@1": sum(r == 1 for r in ranks) / len(ranks)},
              "per_user_test": {"user": [str(u) for u in range(len(ranks))], "rank": ranks, "max_rank": 10},
              "time_s": {"train": 600.0, "test": 120.0, "total": 780.0}}
    (folder / f"iLoRA-seed2020-{way[0]}.json").write_text(json.dumps(result))


def test_the_table_compares_every_way_with_one_thread_user_by_user(tmp_path):
    one = [1, 2, 1, 3] * 10
    write_way(tmp_path, "1 thread", one, 1, 1)
    write_way(tmp_path, "2 threads", [1, 2, 1, 3] * 9 + [2, 2, 1, 3], 2, 1)
    results = execution.finished(tmp_path)
    assert list(results) == ["1 thread", "2 threads"]
    table = execution.table(results)
    assert "2.5%" in table  # one user of 40 ranks its target elsewhere
    assert "0.5000 [" in table and "-0.0250, p = " in table


def test_the_two_process_way_is_planned_as_torchrun_starts_it(tmp_path):
    one = execution.plan("1 thread", tmp_path, [], None)
    two = execution.plan("2 processes x 1 thread", tmp_path, [], None)
    assert one.error is None and two.error is None
    assert one.result_file.parent.parent.parent.name == "threads1"
    # two processes accumulating one micro-batch each take the step one process takes accumulating two: the same
    # experiment (the global batch is in the identity), kept apart by folder
    assert one.result_file.name == two.result_file.name and one.result_file != two.result_file


def test_an_encoder_checkpoint_gone_from_this_machine_is_trained_again(tmp_path):
    folder = tmp_path / "processes2" / "encoders" / execution.DATASET / execution.PROTOCOL
    folder.mkdir(parents=True)
    checkpoint = tmp_path / "SASRec.pth"
    (folder / "SASRec-seed2020-abc.json").write_text(json.dumps({"checkpoint": str(checkpoint)}))
    assert execution.encoder_checkpoint(tmp_path) is None
    checkpoint.write_bytes(b"weights")
    assert execution.encoder_checkpoint(tmp_path) == str(checkpoint)


def test_the_report_says_whether_the_ways_encoders_rank_alike(tmp_path):
    for way, ranks in (("1 thread", [1, 2, 3]), ("2 threads", [1, 2, 3]), ("2 processes x 1 thread", [1, 5, 3])):
        folder = tmp_path / execution.WAYS[way][0] / "encoders" / execution.DATASET / execution.PROTOCOL
        folder.mkdir(parents=True)
        test = {"user": ["a", "b", "c"], "rank": ranks}
        (folder / "SASRec-seed2020-e.json").write_text(json.dumps({"per_user_test": test}))
    lines = execution.encoder_lines(tmp_path)
    assert lines == ["- encoder of 2 threads vs encoder of 1 thread: 0 of 3 test users rank their target elsewhere",
                     "- encoder of 2 processes x 1 thread vs encoder of 1 thread: 1 of 3 test users rank their target "
                     "elsewhere"]
