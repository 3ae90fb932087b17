"""The relational store: SQLAlchemy 2 models, Alembic migrations, repositories."""

from idp.store.sql.database import Database, migrate, open_database

__all__ = ["Database", "migrate", "open_database"]
