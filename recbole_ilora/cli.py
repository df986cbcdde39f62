"""``run_recbole`` (and ``python -m recbole_ilora``): RecBole's command line, run through this package."""

import argparse
import os
import sys

# Two OpenMP threads that spin while waiting collapse when another process holds a core (measured 1.7-2.8x slower
# than one thread; run_scripts/bench_threads.py). Passive waiting keeps two threads fast on an idle box and no
# worse than one thread on a busy one. OpenMP reads this once, when torch loads: so before any import of torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from recbole_ilora.errors import (add_debug_flag, exit_on_user_error, interrupt_while_loading,  # noqa: E402
                                  refuse_empty, sigterm_as_interrupt)

with interrupt_while_loading("run_recbole"):
    from recbole_ilora.config import DEFAULT_DATASET, DEFAULT_MODEL, available_protocols  # noqa: E402 (torch)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_recbole",
        allow_abbrev=False,  # "--data=x" must stay a config key, not become --dataset
        description="Train and evaluate a RecBole model or iLoRA on one dataset, with RecBole's loaders and "
                    "evaluator; writes RecBole's log and a JSON result file per run.",
        epilog="Any other --key=value sets that config key, parsed as RecBole parses it, e.g. --epochs=5 "
               "--learning_rate=1e-3 --seed=2021 --cpu_threads=1.",
    )
    parser.add_argument("--model", "-m", help=f"model name (default: the config files' model, else {DEFAULT_MODEL})")
    parser.add_argument("--dataset", "-d",
                        help=f"dataset name (default: the config files' dataset, else {DEFAULT_DATASET})")
    parser.add_argument("--config_files", default=None, help="space-separated YAML config files, later ones win")
    parser.add_argument("--protocol", choices=available_protocols(), default=None,
                        help="evaluation protocol (default: candidates20, from properties/overall.yaml)")
    add_debug_flag(parser)
    return parser


def main(argv=None):
    with sigterm_as_interrupt():
        _main(argv)


def _main(argv):
    parser = build_parser()
    args, overrides = parser.parse_known_args(argv)
    if args.protocol:
        overrides.append(f"--protocol={args.protocol}")
    refuse_empty(parser, {"--config_files": args.config_files})
    config_files = args.config_files.split() if args.config_files else None

    with interrupt_while_loading(parser.prog):  # after argument parsing: --help stays fast
        from recbole_ilora import distributed, launch
        from recbole_ilora.config import Config
        from recbole_ilora.quick_start import check_before_launch, run
        from recbole_ilora.run_log import early_records

    try:
        with exit_on_user_error(parser.prog, args.debug):
            with early_records():  # the run itself reports the config's warnings, in its log
                config = Config(args.model, args.dataset, config_files, cmd_args=overrides)
            processes = launch.processes_for(config)
            if processes > 1:
                check_before_launch(config)
                raise SystemExit(launch.launch(sys.argv[1:] if argv is None else list(argv), processes, config))
            result = run(model=args.model, dataset=args.dataset, config_file_list=config_files, cmd_args=overrides)
        main_process = distributed.is_main()
    finally:
        distributed.shutdown()
    if main_process:
        print(f"test: {result['test']}")
        print(f"result file: {result['result_file']}")
