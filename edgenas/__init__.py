"""edgenas: hardware-aware neural architecture search for edge models.

The Python API does every job the CLI does::

    import edgenas
    space = edgenas.get_space("fbnet-small")
    profiler = edgenas.get_profiler("onnxruntime", threads=1)
    table = edgenas.profile_space(space, profiler, "latency_tables/mine.json")
    report = edgenas.validate_table(space, table, profiler, n=30)
    model = edgenas.CostModel(space, table)
    model.predict(space.sample(1000, seed=0)).latency_ms
"""
from .tables.cost import CostModel, Prediction
from .errors import (ArchitectureError, BackendUnavailableError, BudgetError, DatasetError, DeviceError, EdgeNASError,
                     ExportError, MissingEntryError, OutputPathError, RunError, SpaceError, TableError,
                     TableMismatchError, TableSchemaError, UnknownNameError)
from .profiling.measure import Timing, TimingProtocol, measure
from .arch.model import Network, build_network, build_op
from .profiling.profile import profile_space
from .arch.registry import OPS, OpRegistry
from .arch.space import PRESETS, OpKey, SearchSpace, get_space
from .tables.table import LatencyTable
from .profiling.validate import ValidationReport, validate_table
from .version import __version__


def get_profiler(name: str, **kwargs):
    """A profiler backend by name (see ``profilers.BACKENDS``)."""
    from profilers import get_profiler as _get

    return _get(name, **kwargs)


__all__ = [
    "ArchitectureError", "BackendUnavailableError", "BudgetError", "CostModel", "DatasetError", "DeviceError",
    "EdgeNASError",
    "ExportError", "LatencyTable", "MissingEntryError", "Network", "OPS", "OpKey", "OpRegistry", "OutputPathError",
    "PRESETS", "Prediction", "RunError", "SearchSpace", "SpaceError", "TableError", "TableMismatchError",
    "TableSchemaError", "Timing", "TimingProtocol", "UnknownNameError", "ValidationReport", "__version__",
    "build_network", "build_op", "get_profiler", "get_space", "measure", "profile_space", "validate_table",
]
