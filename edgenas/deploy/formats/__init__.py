"""deploy.formats: one module per export format (``onnx``, ``executorch``, ``tensorrt``), each writing a
checked file, over ``lowering``: model -> ONNX bytes / ``.pte`` bytes, TensorRT ONNX parsing and the runtime
hooks the profilers share.

``lowering`` imports only ``edgenas.errors`` (profilers/ import it); the format modules import
``lowering``, errors, fileio and the timing protocol, never ``profilers/`` concrete backends.
No eager imports of submodules.
"""
