"""edgenas: hardware-aware neural architecture search for edge models.

The Python API does every job the CLI does (the README's "Python API" runs as written; a test executes it)::

    import edgenas
    space = edgenas.get_space("fbnet-small")
    profiler = edgenas.get_profiler("onnxruntime", threads=1)
    table = edgenas.profile_space(space, profiler, "latency_tables/mine.json")      # edgenas profile
    report = edgenas.validate_table(space, table, profiler, n=30)                   # edgenas table validate
    edgenas.CostModel(space, table).predict(space.sample(1000, seed=0)).latency_ms  # edgenas predict
    edgenas.train_supernet(space, "mnist5k", "runs/spos", edgenas.TrainConfig(epochs=10, batch_size=32))
    edgenas.run_search("nsga2", ["latency_tables/mine.json"], "runs/nsga", estimator="supernet:runs/spos",
                       max_latency_ms=[0.06])                                        # edgenas search nsga2
    edgenas.train_architecture("k3_e3-skip-...", "runs/final")                      # edgenas train
    edgenas.export_models("runs/nsga", "runs/deploy")                               # edgenas export
    edgenas.run_quickstart(out="runs/quickstart")                                   # edgenas quickstart

The jobs that need heavy imports (search, export, quickstart, the benchmark) import them when called.
"""
from .arch.model import Network, build_network, build_op
from .arch.registry import OPS, OpRegistry
from .arch.space import PRESETS, OpKey, SearchSpace, get_space
from .errors import (ArchitectureError, BackendUnavailableError, BudgetError, ConfigError, DatasetError, DeviceError,
                     EdgeNASError, ExportError, MissingEntryError, OutputPathError, RunError, SpaceError, TableError,
                     TableMismatchError, TableSchemaError, UnknownNameError)
from .profiling.measure import Timing, TimingProtocol, measure
from .profiling.profile import profile_space
from .profiling.validate import ValidationReport, validate_table
from .tables.cost import CostModel, Prediction
from .tables.table import LatencyTable
from .train.final import train_architecture
from .train.loop import TrainConfig
from .train.spos import train_spos as train_supernet
from .version import __version__


def get_profiler(name: str, **kwargs):
    """A profiler backend by name (see ``profilers.BACKENDS``)."""
    from profilers import get_profiler as _get

    return _get(name, **kwargs)


def strategies() -> list:
    """The names of the registered search strategies."""
    from .search.strategies import names

    return names()


def run_search(strategy: str, tables, out, **options) -> dict:
    """Run (or resume) the search ``strategy`` into the run folder ``out``; return its result document.

    See :func:`edgenas.search.setup.search` for the options (``config``, ``estimator``, budgets, ...)."""
    from .search.setup import search

    return search(strategy, tables, out, **options)


def export_models(run, out, progress=None, **options) -> dict:
    """Train, export and measure a search's models (``edgenas export``); options are ``ExportOptions``'s."""
    from .deploy.pipeline import ExportOptions, deploy_models

    return deploy_models(ExportOptions(run=str(run), out=str(out), **options), progress=progress)


def run_quickstart(progress=None, **options) -> dict:
    """Every stage on the embedded default (``edgenas quickstart``); options are ``QuickstartConfig``'s."""
    from .quickstart import QuickstartConfig, run_quickstart as _run

    return _run(QuickstartConfig(**options), progress=progress)


def open_benchmark(path=None, space: str = "fbnet-small", tables_dir=None):
    """The benchmark of trained architectures at ``path`` (default: the one shipped for ``space``), to query;
    the tables of its space in ``tables_dir`` (default: the project's ``latency_tables/``) give the latency,
    FLOPs and parameters of architectures it did not train."""
    from .bench.build import space_tables
    from .bench.query import TABLES, BenchmarkOracle, shipped

    sp = get_space(space)
    return BenchmarkOracle(path or shipped(sp), space_tables(sp, tables_dir or TABLES), sp)


__all__ = [
    "ArchitectureError", "BackendUnavailableError", "BudgetError", "ConfigError", "CostModel", "DatasetError",
    "DeviceError", "EdgeNASError", "ExportError", "LatencyTable", "MissingEntryError", "Network", "OPS", "OpKey",
    "OpRegistry", "OutputPathError", "PRESETS", "Prediction", "RunError", "SearchSpace", "SpaceError", "TableError",
    "TableMismatchError", "TableSchemaError", "Timing", "TimingProtocol", "TrainConfig", "UnknownNameError",
    "ValidationReport", "__version__", "build_network", "build_op", "export_models", "get_profiler", "get_space",
    "measure", "open_benchmark", "profile_space", "run_quickstart", "run_search", "strategies", "train_architecture",
    "train_supernet", "validate_table",
]
