"""The tables, as SQLAlchemy Core sees them. Alembic's migrations (migrations/) create and
change them; this module is what the queries are written against, and the two are checked
against each other by a test (tests/unit/storage/test_schema.py).

Messages form a tree, not a list: each has a ``parent`` (the message it answers or follows),
so an edit, a regenerated answer or a branch is a new sibling, never an overwrite, and the
conversation's ``head`` names the leaf of the branch on screen. Times are milliseconds since
the epoch, UTC, the same on every engine.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

ID = 40  # "c_" / "m_" / "t_" and 22 characters of randomness, with room to spare
OWNER = 200
TITLE = 200
MODEL = 256

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("owner", String(OWNER), nullable=False),
    Column("title", String(TITLE), nullable=False),
    Column("model", String(MODEL), nullable=True),
    Column("head", String(ID), nullable=True),  # the last message of the branch on screen
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    # The sidebar's query: one owner's conversations, newest first.
    Index("ix_conversations_owner_updated", "owner", "updated_ms"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column(
        "conversation",
        String(ID),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("parent", String(ID), ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(16), nullable=False),  # user | assistant | system
    Column("text", Text, nullable=False),
    # streaming | done | stopped | error | incomplete (a user's message is done)
    Column("state", String(16), nullable=False),
    Column("error", JSON, nullable=True),  # {code, message, status?, ...} as the page shows it
    Column("usage", JSON, nullable=True),
    Column("tool_calls", JSON, nullable=True),  # [{call, round, id, name, arguments, state, result, ms}]
    Column("reasoning", JSON, nullable=True),  # {text, ms}: the model's thinking, apart from its text
    Column("finish_reason", String(32), nullable=True),
    Column("ttft_ms", Float, nullable=True),
    Column("tokens_per_second", Float, nullable=True),
    Column("duration_ms", Float, nullable=True),
    Column("model", String(MODEL), nullable=True),
    Column("turn", String(ID), nullable=True, unique=True),
    Column("seq", Integer, nullable=False),  # the turn log's last event stored in this row
    # Edits replace text in place and count versions (turns/merge.py); an edit that should be
    # answered again becomes a sibling instead.
    Column("version", Integer, nullable=False),
    Column("original", Text, nullable=True),  # the model's own text, once a page edited it
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)
