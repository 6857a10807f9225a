"""tables: the latency table file (versioned, with its device header), ops read inside a network,
and the cost model that predicts an architecture's latency and memory from a table.

Imports arch and the cross-cutting modules (errors, fileio, version) and the timing protocol's value types
(``edgenas.profiling.measure``, which imports nothing of edgenas); never profiling orchestration, train,
search or deploy. No eager imports of submodules.
"""
