"""The pure domain: criteria, evaluation, recommendation, lifecycle moves, EVM, tolerances, audit-chain maths,
and the vocabulary it speaks (``gates.vocabulary``). No I/O and no clock; every layer above may import it."""
