"""``docs/studies/README.md``: one line per study (the paper's claim, what was measured, whether it holds here),
rebuilt from every study's ``summary.json`` so that it never disagrees with the pages.

The file is this command's when it begins with ``TITLE``, and is then rewritten whole. A README of the user's gets the
index between the ``INDEX_BEGIN`` / ``INDEX_END`` lines (its other text kept); one without them is refused, never
replaced.
"""

import json
from pathlib import Path

from tabulate import tabulate

from recbole_ilora.errors import OutputExistsError
from recbole_ilora.files import MarkedBlockError, marked_text, replace_marked_block, write_text_atomic

TITLE = "# Studies: the iLoRA paper's analyses, re-tested"
INDEX_BEGIN, INDEX_END = "<!-- study index: begin -->", "<!-- study index: end -->"
CAVEAT = ("Every verdict is about this package's setting: a 135M-parameter backbone (the paper: 7B) and a CPU "
          "budget of a fraction of an epoch (the runs' line of each page), unless a page says otherwise. \"Not "
          "separable here\" means the measurement cannot tell the arms apart (p >= 0.05), not that they are equal.")


def _generated(path):
    """Whether ``path`` is an index this command wrote (it begins with ``TITLE``)."""
    with open(path, "rb") as handle:
        return handle.read(len(TITLE.encode())).decode("utf-8", "replace") == TITLE


def check_index(out):
    """Raise ``OutputExistsError`` when writing ``OUT/README.md`` would lose a file this command did not write: checked
    before any run, not after hours."""
    path = Path(out) / "README.md"
    if not path.exists() or (path.is_file() and _generated(path)):
        return
    try:
        marked_text("--out", path, INDEX_BEGIN, INDEX_END)
    except MarkedBlockError:
        raise OutputExistsError(
            f"--out {out}: {path} is not a study index (it does not begin with '{TITLE}') and has no lines "
            f"'{INDEX_BEGIN}' and '{INDEX_END}', so it would be lost: add those two lines where the index belongs, "
            f"give another --out, or move it away") from None


def write_index(out):
    """Write the index of the studies under ``out`` to ``OUT/README.md`` (``check_index`` has passed)."""
    summaries = sorted((json.loads(path.read_text()) for path in Path(out).glob("*/summary.json")),
                       key=lambda summary: summary["name"])
    rows = [[f"[{s['name']}]({s['name']}/{s['name']}.md)", s["claim"], s["measured"] or "-", s["verdict"],
             s["runs"] or "-"] for s in summaries]
    index = "\n".join([CAVEAT, "", tabulate(rows, headers=["study", "the paper's claim", "measured", "verdict", "runs"],
                                            tablefmt="github")])
    path = Path(out) / "README.md"
    if path.exists() and not _generated(path):  # the user's README, with the markers (check_index)
        replace_marked_block("--out", path, INDEX_BEGIN, INDEX_END, index)
        return
    text = [TITLE, "",
            "Each study is `study NAME` (`run_scripts/study.py NAME`); its spec is `properties/study/NAME.yaml`.", "",
            index, ""]
    write_text_atomic("\n".join(text), path)
