"""arch: the search space as data, the op registry, networks built from it, the supernet, sampling, baselines
and analytical costs (FLOPs, bytes).

Imports only ``edgenas.errors``, ``edgenas.fileio`` and ``edgenas.units``; never tables, profiling, train,
search or deploy. Submodules are imported where used (no eager imports here).
"""
