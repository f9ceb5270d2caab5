"""Running jobs in worker processes: one object per worker process, the worker
trampoline, the local pool, the pure job state machine, the dispatcher that `run`
and `watch` share, and the outcome → result verdict.
"""
