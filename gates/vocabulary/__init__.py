"""The vocabulary the domain speaks: frozen types (snapshots, commands, events, evidence, templates, notices),
enums and errors. It imports nothing else of phasegate, so every layer above may use it.

Its models (and the domain's) set ``defer_build=True``: Pydantic then builds a model's validator when the model
is first used, not at import, so a CLI command that touches a handful of the 150 models does not pay for all."""
