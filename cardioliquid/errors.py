"""The project's error types.

Every problem with an input (a file, a recording, a checkpoint) raises
:class:`RecordingError` (or :class:`ContractError` when a model and a signal
do not fit), whose message names the file and says what was expected and what
was found.
"""

from __future__ import annotations

from os import PathLike


class CardioLiquidError(ValueError):
    """Base class of all errors raised by CardioLiquid on bad input."""


class RecordingError(CardioLiquidError):
    """A recording (or another input file) cannot be read or used.

    Parameters
    ----------
    path : str | PathLike | None
        The file (or record) at fault; it leads the message.
    message : str
        What is wrong, in the form "expected ..., got ...".
    """

    def __init__(self, path: str | PathLike | None, message: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def __reduce__(self):
        # Rebuild from (path, message), not from the formatted text, so the error
        # survives pickling (process pools send workers' exceptions back this way).
        return type(self), (self.path, self.reason)


class ContractError(CardioLiquidError):
    """A model's signal contract (channels, rate, window) does not fit its input."""


class CheckpointError(RecordingError):
    """A checkpoint cannot be loaded safely or does not describe a CardioLiquid model."""
