"""Errors a user can fix by changing input: the CLI prints these as one message, without a traceback."""


class ConfigurationError(ValueError):
    """A config key, model name or protocol name is wrong; the message says which and how to fix it."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's atomic files are not where the config says; the message says how to produce them."""


class DataError(ValueError):
    """A dataset's atomic files cannot be used as they are; the message names the file or field and the fix."""


class RawDataError(ValueError):
    """A raw dataset file cannot be converted; the message names the file (and line) and what to change."""


class OutputExistsError(FileExistsError):
    """The output folder already holds a different dataset; the message says how to replace or keep it."""


class CheckpointError(ValueError):
    """A checkpoint cannot be used: missing, unreadable, not this package's, or from another experiment."""
