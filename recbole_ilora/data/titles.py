"""Whole item titles, indexed by RecBole's internal item id, from the dataset's text field.

RecBole loads a ``token_seq`` field such as ml-100k's ``movie_title`` as word ids into a word vocabulary; the
title string is those words joined again (RecBole splits on ``seq_separator``, a single space).
"""

from recbole.utils import FeatureType

from recbole_ilora.errors import ConfigurationError, DataError

TEXT_TYPES = (FeatureType.TOKEN, FeatureType.TOKEN_SEQ)


def item_titles(dataset, field):
    """``titles[i]`` is the title of internal item id ``i`` (``titles[0]``, the padding id, is empty).

    Raises a ``ConfigurationError`` naming the field and the first items without a title, so that a bad dataset
    fails when it is loaded rather than mid-epoch.
    """
    if not field:
        raise ConfigurationError("item_text_field is not set: name the item field that holds titles "
                                 "(e.g. movie_title) in the dataset's YAML or with --item_text_field=...")
    if dataset.item_feat is None or field not in dataset.item_feat.columns:
        raise ConfigurationError(
            f"item_text_field '{field}' is not a loaded item field of dataset '{dataset.dataset_name}': its "
            f".item file must have that column and load_col must read it, e.g. load_col: {{inter: [...], "
            f"item: [{dataset.iid_field}, {field}]}}."
        )
    if dataset.field2type[field] not in TEXT_TYPES:
        raise ConfigurationError(f"item_text_field '{field}' has type {dataset.field2type[field].value}; "
                                 f"titles must be a token or token_seq field.")
    vocabulary = dataset.field2id_token[field]
    rows = dataset.item_feat[field]
    rows = rows.tolist() if hasattr(rows, "tolist") else list(rows)
    if dataset.field2type[field] == FeatureType.TOKEN:
        rows = [[value] for value in rows]
    # int(): before RecBole builds the splits, a token field is a float column (NaN-filled rows for the padding id)
    titles = [" ".join(vocabulary[int(word)] for word in row if word) for row in rows]
    titles[0] = ""
    missing = [item for item in range(1, len(titles)) if not titles[item].strip()]
    if missing:
        tokens = dataset.id2token(dataset.iid_field, missing[:10]).tolist()
        raise DataError(
            f"{len(missing)} item(s) of dataset '{dataset.dataset_name}' have no title in field '{field}' "
            f"(item ids {', '.join(map(str, tokens))}{', ...' if len(missing) > 10 else ''}): add their titles to "
            f"the .item file, or drop untitled items when preparing the dataset."
        )
    return titles


def shared_titles(title_ids):
    """Groups of two or more internal item ids whose titles are the same as the prompt shows them (``title_ids[i]``:
    item ``i``'s token ids, cut to ``max_title_tokens``; ``0`` is the padding id): an LLM cannot tell them apart in a
    prompt or an answer."""
    groups = {}
    for item, ids in enumerate(title_ids[1:], start=1):
        groups.setdefault(tuple(ids), []).append(item)
    return [items for items in groups.values() if len(items) > 1]
