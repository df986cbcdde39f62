"""Every seeded random draw of this package, in one table: each draw is a pure function of the run's seed, its stream
and what it is for (a user, a sample, a step), never of a stateful generator, so that it is the same however batches
are split over processes and across an interruption.

A draw's generator is ``numpy.random.default_rng([seed, stream, *key])``. Two draws share a stream number only where
their keys have different lengths (NumPy's ``SeedSequence`` then gives unrelated generators); the numbers are those
the published results were drawn with, so they stay as they are.
"""

import numpy as np

# Evaluation candidates, per phase: key (user, positive item).
CANDIDATES = {"valid": 0, "test": 1}
# Training negatives of a sample: key (epoch, user, history length).
TRAINING_NEGATIVES = 1
# The order in which a user's candidates are listed in an evaluation prompt: key (user,).
PROMPT_ORDER = 2
# The curriculum's text-only draw of an optimizer step: key (epoch, step).
CURRICULUM = 3
# The evaluated users of ``eval_users``: no key.
EVAL_USERS = 3
# The users whose training samples ``train_user_share`` keeps: no key.
TRAINING_USERS = 4


def generator(seed, stream, *key):
    """The generator of one draw."""
    return np.random.default_rng([int(seed), stream, *(int(part) for part in key)])
