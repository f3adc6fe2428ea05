"""A scratch PostgreSQL database for a bench script, on the local server the tests use too.

Why here: every bench script that measures PostgreSQL makes one the same way and drops it afterwards.
"""

from __future__ import annotations


def scratch_database(name: str, *, drop: bool = False) -> str | None:
    """A fresh, empty database ``name`` (dropped first if it exists) and its URL; with ``drop``, only dropped.

    None, with a note printed, when no PostgreSQL server answers on 127.0.0.1.
    """
    import psycopg  # only scripts measuring PostgreSQL pay for it

    try:
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True, connect_timeout=3
        ) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not drop:
                connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        print(f"# postgresql skipped: {error}".splitlines()[0])
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1/{name}"
