"""The Python engines a PMO might pick instead of phasegate, driven through the same gate scenario.

Each peer module runs N rounds (submit to the gate, then the sponsor's decision) against a fresh store and
returns a ``Timing``. They are benchmark fixtures, not part of phasegate: phasegate never imports
them, and their libraries live in the ``bench`` optional dependency group.
"""
