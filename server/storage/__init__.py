"""Conversations and their messages, kept in a SQL database (SQLite by default, PostgreSQL by
URL) through SQLAlchemy's async engine; the schema is Alembic's to change."""
