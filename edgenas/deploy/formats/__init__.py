"""deploy.formats: the export formats, looked up by name in ``registry`` (``onnx``, ``executorch``,
``tensorrt``: one module and one :class:`~edgenas.deploy.formats.base.ExportFormat` object each, writing a file
checked against PyTorch and naming the backends that time it), over ``lowering``: model -> ONNX bytes / ``.pte``
bytes, TensorRT's ONNX parser, the CUDA device and the runtime hooks the profilers share.

``lowering`` imports only ``edgenas.errors`` (profilers/ import it); the format modules import ``base``,
``lowering``, errors and fileio, never ``profilers/``. No eager imports of submodules.
"""
