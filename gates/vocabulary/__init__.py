"""The vocabulary the domain speaks: frozen types (snapshots, commands, events, evidence, templates, notices),
enums and errors. It imports nothing else of phasegate, so every layer above may use it."""
