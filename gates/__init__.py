"""The pure domain: criteria, evaluation, recommendation, lifecycle moves, audit-chain maths. No I/O."""
