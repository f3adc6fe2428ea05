"""Alembic migration environment for phasegate's own database."""
