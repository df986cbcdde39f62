"""``docs/studies/README.md``: one line per study (the paper's claim, what was measured, whether it holds here),
rebuilt from every study's ``summary.json`` so that it never disagrees with the pages."""

import json
from pathlib import Path

from tabulate import tabulate

from recbole_ilora.files import write_text_atomic

CAVEAT = ("Every verdict is about this package's setting: a 135M-parameter backbone (the paper: 7B) and a CPU "
          "budget of a fraction of an epoch (the runs' line of each page), unless a page says otherwise. \"Not "
          "separable here\" means the measurement cannot tell the arms apart (p >= 0.05), not that they are equal.")


def write_index(out):
    summaries = sorted((json.loads(path.read_text()) for path in Path(out).glob("*/summary.json")),
                       key=lambda summary: summary["name"])
    rows = [[f"[{s['name']}]({s['name']}/{s['name']}.md)", s["claim"], s["measured"] or "-", s["verdict"],
             s["runs"] or "-"] for s in summaries]
    text = ["# Studies: the iLoRA paper's analyses, re-tested", "",
            "Each study is `study NAME` (`run_scripts/study.py NAME`); its spec is `properties/study/NAME.yaml`.", "",
            CAVEAT, "", tabulate(rows, headers=["study", "the paper's claim", "measured", "verdict", "runs"],
                                 tablefmt="github"), ""]
    write_text_atomic("\n".join(text), Path(out) / "README.md")
