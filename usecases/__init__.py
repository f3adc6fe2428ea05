"""Use cases: one module per capability, one function per act, one unit of work each, committed once.

Use cases receive their dependencies as keyword arguments (a unit-of-work factory, the current time, the
document probe, the criteria registry, the approval links), so entry points decide where data lives and tests
decide what time it is. They return results, not rows; results carry events (``gates.vocabulary.events``) that the
composition root (``flows.runtime``) reacts to after the commit. The pure rules they apply live one layer
down in ``gates/`` (quorum, segregation, delegation, recycle limit, lifecycle moves, evaluation); what they
need from storage is declared in ``usecases/ports.py`` and implemented in ``models/repositories/``.
"""
