"""Notifications: render per-locale messages and deliver the outbox through Apprise."""
