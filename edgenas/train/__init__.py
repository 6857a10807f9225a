"""train: datasets, the one training loop (``loop``), SPOS supernet training, final training of an
architecture, distributed helpers, training ahead of export, and supernet run folders.

Imports arch and the cross-cutting modules; never tables, profiling, search or deploy.
No eager imports of submodules.
"""
