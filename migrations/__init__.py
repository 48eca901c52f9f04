"""Alembic migrations: the one owner of the platform database's schema.

`sangsaeng db upgrade` (`migrations.schema.upgrade`) runs the revisions in
`versions/` and adds the landing columns the contracts gained; services call
`migrations.schema.ensure` before they touch the database.
"""
