"""search: the strategy registry and one module per strategy, the pymoo problem and algorithms, the run
store, evaluation runners, accuracy estimators, cost losses, constrained decoding, reports and plots.

Imports arch, tables, train and the cross-cutting modules; never profiling orchestration or deploy.
No eager imports of submodules.
"""
