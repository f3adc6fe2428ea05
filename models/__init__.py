"""Vocabulary and adapters: enums, Pydantic domain types, errors, settings, ORM tables, unit of work."""
