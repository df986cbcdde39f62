"""Errors a user can fix by changing input: the CLI prints these as one message, without a traceback."""


class ConfigurationError(ValueError):
    """A config key, model name or protocol name is wrong; the message says which and how to fix it."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's atomic files are not where the config says; the message says how to produce them."""


class RawDataError(ValueError):
    """A raw dataset file cannot be converted; the message names the file (and line) and what to change."""


class OutputExistsError(FileExistsError):
    """The output folder already holds a different dataset; the message says how to replace or keep it."""
