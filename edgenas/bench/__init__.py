"""bench: a benchmark of trained architectures (the accuracy half of a hardware-aware NAS benchmark).

A fixed, stratified sample of a space's architectures is trained from scratch
with one recipe (:mod:`.recipe`); the results, with each architecture's cheap
features and its predicted latency from every table of the space, live in one
JSON file (:mod:`.benchfile`) built by :mod:`.build`.

May import: arch (space, model), tables (table, cost model), train (data, the
training loop), errors, fileio, runfolder. Never search or deploy.
"""
