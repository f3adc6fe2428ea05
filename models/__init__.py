"""The storage adapters: ORM tables, the unit of work and its repositories, the audit store, schema and
migrations runner, documents store, credentials, file imports, settings and the shipped lifecycle templates."""
