"""Keeping things: the PostgreSQL pool, migrations and the named queries."""
