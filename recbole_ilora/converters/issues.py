"""Counted warnings about raw input: each kind of problem with its count and the first places (file:line) it hit.

Raw downloads have a few bad lines; stopping at the first one helps nobody, skipping them silently hides data
loss. So a converter skips such a line and counts it here, the report prints every count with examples, and
``--strict`` turns the first one into an error instead.
"""

from recbole_ilora.errors import RawDataError

EXAMPLES_PER_KIND = 3


class Issues:
    """Warnings collected during one conversion.

    Args:
        strict: raise a ``RawDataError`` at the first warning instead of counting it.
    """

    def __init__(self, strict=False):
        self.strict = strict
        self.counts = {}
        self.examples = {}

    def warn(self, kind, where, detail=""):
        """Record one occurrence of ``kind`` (e.g. "malformed line") at ``where`` (e.g. "ratings.dat:17")."""
        detail = f" ({detail})" if detail else ""
        if self.strict:
            raise RawDataError(f"{where}: {kind}{detail}. Without --strict this is a counted warning and the entry "
                               f"is skipped.")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        examples = self.examples.setdefault(kind, [])
        if len(examples) < EXAMPLES_PER_KIND:
            examples.append(where + detail)

    def count(self, kind):
        return self.counts.get(kind, 0)

    def summary(self):
        """One line per kind: ``N x kind: file:line (detail); ...``."""
        return [f"{count:,} x {kind}: " + "; ".join(self.examples[kind])
                + ("; ..." if count > EXAMPLES_PER_KIND else "") for kind, count in self.counts.items()]
