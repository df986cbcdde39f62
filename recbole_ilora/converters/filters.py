"""The filters every converter offers, each returning what it dropped so the report can say so.

Interactions are a DataFrame with columns ``user``, ``item``, ``timestamp``, ``order`` (the raw line order, which
breaks timestamp ties) and, where the dataset has one, ``rating``. Order of application: exact duplicates, items
without a title, then the minimum rating, then the k-core (which depends on what the others removed).
"""

from recbole_ilora.errors import ConfigurationError

EXAMPLE_IDS = 5


def _examples(values):
    values = list(values)
    return ", ".join(map(str, values[:EXAMPLE_IDS])) + (", ..." if len(values) > EXAMPLE_IDS else "")


def drop_duplicates(inter):
    """Interactions without exact repeats (same user, item and timestamp; the first in raw order kept), and a report
    line (None when there are none). A repeat would sit beside itself in its user's sequence: e.g. the test target
    equal to the last history item."""
    inter = inter.sort_values("order", kind="stable")
    repeated = inter.duplicated(["user", "item", "timestamp"])
    if not repeated.any():
        return inter, None
    pairs = inter.loc[repeated, ["user", "item"]].drop_duplicates().head(EXAMPLE_IDS + 1)
    return inter[~repeated], (f"dropped {int(repeated.sum()):,} exact duplicate interaction(s) (same user, item and "
                              f"timestamp; the first in file order kept), e.g. (user, item) "
                              f"{_examples(f'({user}, {item})' for user, item in pairs.itertuples(index=False))}")


def drop_untitled(inter, titled_items, drop=True):
    """Interactions whose item has a title (all of them when ``drop`` is False), and a report line.

    Args:
        titled_items: the item ids that have a usable title.
    """
    untitled = ~inter["item"].isin(titled_items)
    items = inter.loc[untitled, "item"].unique()
    if not len(items):
        return inter, "items without a title: none"
    detail = (f"{len(items):,} item(s) without a title in {int(untitled.sum()):,} interaction(s), "
              f"e.g. item ids {_examples(items)}")
    if not drop:
        return inter, f"kept {detail} (--keep_untitled): LLM models will refuse this dataset"
    return inter[~untitled], f"dropped {detail}"


def min_rating(inter, threshold):
    """Interactions rated at least ``threshold`` (all when it is None), and a report line."""
    if threshold is None:
        return inter, None
    if "rating" not in inter:
        raise ConfigurationError("--min_rating: this dataset has no ratings; leave the option out.")
    kept = inter[inter["rating"] >= threshold]
    return kept, f"minimum rating {threshold:g}: dropped {len(inter) - len(kept):,} interaction(s)"


def k_core(inter, min_user=1, min_item=1):
    """Interactions of users with >= ``min_user`` and items with >= ``min_item`` interactions, applied until both
    hold (dropping items can push a user below the bound and back), and a report line."""
    if min_user < 1 or min_item < 1:
        raise ConfigurationError("--min_user_inter and --min_item_inter must be at least 1.")
    if min_user == 1 and min_item == 1:
        return inter, None
    before, rounds = len(inter), 0
    while True:
        rounds += 1
        users = inter["user"].map(inter["user"].value_counts()) >= min_user
        items = inter["item"].map(inter["item"].value_counts()) >= min_item
        keep = users & items
        if keep.all():
            break
        inter = inter[keep]
    return inter, (f"k-core (users >= {min_user}, items >= {min_item} interactions, {rounds} round(s)): "
                   f"dropped {before - len(inter):,} interaction(s)")
