"""deploy: export chosen architectures and measure them with the table's own profiler, beside the table's
control networks, and write the deployment report.

``pipeline`` (``edgenas export``: load the search and its table once, run every model), ``models`` (one model:
train, export, measure, manifest), ``formats`` (the export formats, a registry), ``measure`` (the table's
profiler timing deployed networks), ``controls``, ``source`` (the search run read), ``options``, ``report``.

Imports every stage below it (arch, tables, profiling, train, search results); reaches a concrete profiler only
through ``profilers.get_profiler`` (via :mod:`edgenas.profiling.table_profiler`). No eager imports of submodules.
"""
