"""``prepare_dataset`` (also ``python -m recbole_ilora.converters`` and ``run_scripts/prepare_dataset.py``).

    prepare_dataset NAME --raw FOLDER [--raw FOLDER ...] [--out dataset] [options]
    prepare_dataset --stats dataset/NAME
"""

import argparse
import codecs
import math
import sys

from recbole_ilora.errors import add_debug_flag, exit_on_user_error, interrupt_while_loading, sigterm_as_interrupt

PROG = "prepare_dataset"

with interrupt_while_loading(PROG):  # pandas and the converters take seconds to load
    from recbole_ilora.converters import CONVERTERS, get_converter  # noqa: E402
    from recbole_ilora.converters.pipeline import ConvertOptions, prepare  # noqa: E402
    from recbole_ilora.converters.stats import folder_stats, format_stats  # noqa: E402


def _add_shared_arguments(parser):
    parser.add_argument("--raw", action="append", required=True, metavar="FOLDER",
                        help="folder holding the raw files (repeat to search several; files may be .gz)")
    parser.add_argument("--out", default="dataset", metavar="FOLDER",
                        help="RecBole data_path; the dataset is written to FOLDER/NAME/ (default: %(default)s)")
    parser.add_argument("--name", default=None, help="output dataset name (default: the converter's)")
    group = parser.add_argument_group("filters (applied in this order; counts are reported)")
    group.add_argument("--keep_untitled", dest="drop_untitled", action="store_false",
                       help="keep items without a title (LLM models then refuse the dataset); default: drop them "
                            "and their interactions")
    group.add_argument("--min_rating", type=float, default=None, help="drop interactions rated below this")
    group.add_argument("--min_user_inter", type=int, default=1, help="k-core: minimum interactions per user")
    group.add_argument("--min_item_inter", type=int, default=1, help="k-core: minimum interactions per item")
    group = parser.add_argument_group("input and output")
    group.add_argument("--encoding", default=None, help="raw files' encoding, if not the dataset's documented one")
    group.add_argument("--strict", action="store_true", help="a bad raw line is an error, not a counted warning")
    group.add_argument("--overwrite", action="store_true",
                       help="replace an output folder that holds a different conversion (the whole folder)")
    group.add_argument("--overwrite_other_files", action="store_true",
                       help="with --overwrite, also delete files in that folder that no conversion wrote")
    group.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Convert a raw dataset download into RecBole atomic files with item titles, for "
                    "run_recbole --dataset=NAME; or print the statistics of a converted dataset.",
        epilog="Each converter's own options: prepare_dataset NAME --help.",
    )
    parser.add_argument("--stats", metavar="FOLDER", help="print the statistics of an existing dataset folder "
                                                          "(e.g. dataset/ml-1m) and exit")
    add_debug_flag(parser)
    subparsers = parser.add_subparsers(dest="converter", metavar="NAME", title="datasets")
    for name in CONVERTERS:
        module = get_converter(name)
        sub = subparsers.add_parser(name, help=module.SUMMARY, description=module.__doc__.split("\n\n")[0],
                                    allow_abbrev=False)
        _add_shared_arguments(sub)
        module.add_arguments(sub.add_argument_group(f"{name} only"))
    return parser


def options_from(args):
    values = {key: value for key, value in vars(args).items() if key in ConvertOptions.__dataclass_fields__}
    return ConvertOptions(**values, progress=not args.quiet and sys.stderr.isatty())


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    with sigterm_as_interrupt(), exit_on_user_error(PROG, args.debug):
        if args.stats:
            if args.converter:
                parser.error("--stats takes a dataset folder and no NAME")
            print(format_stats(args.stats.rstrip("/").split("/")[-1], folder_stats(args.stats)))
            return 0
        if not args.converter:
            parser.error("name a dataset to convert (" + ", ".join(CONVERTERS) + ") or pass --stats FOLDER")
        if args.encoding:
            try:
                codecs.lookup(args.encoding)
            except LookupError:
                parser.error(f"--encoding {args.encoding!r} is not a text encoding Python knows (e.g. utf-8, latin-1)")
        if args.min_rating is not None and not math.isfinite(args.min_rating):
            parser.error(f"--min_rating must be a finite number, got {args.min_rating}")
        prepare(args.converter, args.raw, args.out, options_from(args), echo=print)
    return 0
