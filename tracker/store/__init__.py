"""Storage: the database schema, engine and the query layer (the only place that builds SQL)."""
