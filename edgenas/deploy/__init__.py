"""deploy: export chosen architectures (``formats``: ONNX, ExecuTorch, TensorRT), measure them beside the
table's control networks, and write the deployment report.

Imports every stage below it (arch, tables, profiling, train, search results); reaches a concrete profiler only
through ``profilers.get_profiler``. No eager imports of submodules.
"""
