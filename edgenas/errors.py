"""Typed errors. The CLI turns any :class:`EdgeNASError` into one line and exit code 2.

Library code raises these for anything a user can get wrong (names, files,
budgets, data); programming errors stay ordinary Python exceptions.
"""


class EdgeNASError(Exception):
    """Base class of every error edgenas reports to a user."""


class UnknownNameError(EdgeNASError, KeyError):
    """A space, op, backend, strategy, dataset or device name that is not registered."""

    def __init__(self, kind: str, name: str, known, where: str = ""):
        self.kind, self.name, self.known = kind, name, sorted(known)
        place = f" in {where}" if where else ""
        super().__init__(f"unknown {kind} {name!r}{place}; known: {', '.join(self.known) or '(none)'}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]

    def __reduce__(self):  # rebuilt from its fields when it crosses a process (train_ahead workers, Ray tasks)
        return type(self), (self.kind, self.name, self.known), {"args": self.args}


class ArchitectureError(EdgeNASError, ValueError):
    """An architecture string or tuple that does not fit its search space."""


class SpaceError(EdgeNASError, ValueError):
    """A search-space declaration that cannot be parsed or is inconsistent."""


class TableError(EdgeNASError):
    """A latency table that cannot be read, or does not fit what it is used for."""


class TableSchemaError(TableError):
    """The table file was written by a newer (or unknown) schema."""


class TableMismatchError(TableError):
    """The table was measured for another space, runtime, device or setting."""


class MissingEntryError(TableError, KeyError):
    """A cost was asked for an op the table does not hold (strict mode)."""

    def __str__(self) -> str:
        return self.args[0]


class BackendUnavailableError(EdgeNASError):
    """A profiling or export backend whose runtime is not installed or not reachable."""


class DeviceError(EdgeNASError):
    """A remote device that is not connected, refuses authentication, lacks a runtime or drops mid-profile."""


class BudgetError(EdgeNASError, ValueError):
    """A latency or memory budget that no architecture of the space can meet."""


class DatasetError(EdgeNASError):
    """A dataset path that is missing, empty or malformed."""


class RunError(EdgeNASError):
    """A run folder or journal that is missing, incomplete, corrupt or from another config."""


class ExportError(EdgeNASError):
    """An export that failed or whose outputs do not match PyTorch."""


class OutputPathError(EdgeNASError, OSError):
    """An output path that cannot be written."""


class ConfigError(EdgeNASError, ValueError):
    """An option that is out of range, or that the chosen strategy or command does not take."""
