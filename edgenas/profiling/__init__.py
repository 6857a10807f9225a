"""profiling: fill a latency table by timing a space on one profiler (``profile``), several targets at once
(``many``), reference pairing, the table's own profiler rebuilt from its header (``table_profiler``), export
prefetch, validation against whole networks, and table reports.
``measure`` is the one timing protocol; it imports nothing of edgenas (it is copied to devices as is).

Imports arch, tables and the cross-cutting modules; reaches a concrete profiler only through
``profilers.get_profiler`` or a profiler passed in; never train, search or deploy.
No eager imports of submodules.
"""
