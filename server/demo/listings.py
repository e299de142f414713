"""The code listings of the ``huge`` answer: one of Orchard's entities as a Python repository, a
SQL migration and a TypeScript client (pure), and the field helpers the prose shares.
"""

from __future__ import annotations

from .orchard import Entity, Field

PYTHON_TYPES = {
    "text": "str",
    "int": "int",
    "money": "int",
    "bool": "bool",
    "time": "dt.datetime",
    "json": "dict[str, object]",
    "uuid": "uuid.UUID",
}
SQL_TYPES = {
    "text": "text",
    "int": "integer",
    "money": "bigint",
    "bool": "boolean",
    "time": "timestamptz",
    "json": "jsonb",
    "uuid": "uuid",
}
TS_TYPES = {
    "text": "string",
    "int": "number",
    "money": "number",
    "bool": "boolean",
    "time": "string",
    "json": "Record<string, unknown>",
    "uuid": "string",
}


# --- field helpers -------------------------------------------------------------------------


def base_kind(field: Field) -> str:
    kind = field.kind.rstrip("?")
    if kind.startswith("ref:"):
        return "uuid"
    if kind.startswith("enum:"):
        return "text"
    return kind


def is_nullable(field: Field) -> bool:
    return field.kind.endswith("?")


def enum_values(field: Field) -> list[str]:
    kind = field.kind.rstrip("?")
    return kind.removeprefix("enum:").split("|") if kind.startswith("enum:") else []


def ref_table(field: Field) -> str | None:
    kind = field.kind.rstrip("?")
    return kind.removeprefix("ref:") if kind.startswith("ref:") else None


def class_name(entity: Entity) -> str:
    return "".join(word.capitalize() for word in entity.singular.split("_"))


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def column_names(entity: Entity) -> list[str]:
    return ["id", *(field.name for field in entity.fields), "created_at", "updated_at"]


# --- the listings --------------------------------------------------------------------------


def python_listing(entity: Entity) -> str:
    cls = class_name(entity)
    key = f"{entity.singular}_id"
    writable = [field.name for field in entity.fields]
    fields = [f"    {name}: {_python_type(field)}" for name, field in _named(entity)]
    params = [f"        {field.name}: {_python_type(field)}," for field in entity.fields]
    placeholders = ", ".join(f"${i}" for i in range(1, len(writable) + 1))
    quoted = ", ".join(f'"{name}"' for name in writable)
    args = [f"            {name}," for name in writable]
    lines = [
        "from __future__ import annotations",
        "",
        "import datetime as dt",
        "import uuid",
        "from dataclasses import dataclass",
        "",
        "import asyncpg",
        "",
        f'COLUMNS = "{", ".join(column_names(entity))}"',
        f"WRITABLE = frozenset({{{quoted}}})",
        "",
        "",
        "@dataclass(frozen=True, kw_only=True)",
        f"class {cls}:",
        f'    """One row of `{entity.plural}`."""',
        "",
        *fields,
        "",
        "",
        f"class {cls}Repository:",
        f'    """Reads and writes `{entity.plural}`. Every method is a single round trip."""',
        "",
        "    def __init__(self, pool: asyncpg.Pool) -> None:",
        "        self._pool = pool",
        "",
        f"    async def get(self, {key}: uuid.UUID) -> {cls} | None:",
        "        row = await self._pool.fetchrow(",
        f'            f"SELECT {{COLUMNS}} FROM {entity.plural} WHERE id = $1", {key}',
        "        )",
        f"        return None if row is None else {cls}(**row)",
        "",
        "    async def page(",
        "        self, *, before: dt.datetime | None = None, limit: int = 50",
        f"    ) -> list[{cls}]:",
        '        """Newest first. Pass the last row\'s `created_at` to get the next page."""',
        "        rows = await self._pool.fetch(",
        f'            f"SELECT {{COLUMNS}} FROM {entity.plural}"',
        '            " WHERE ($1::timestamptz IS NULL OR created_at < $1)"',
        '            " ORDER BY created_at DESC LIMIT $2",',
        "            before,",
        "            limit,",
        "        )",
        f"        return [{cls}(**row) for row in rows]",
        "",
        "    async def create(",
        "        self,",
        "        *,",
        *params,
        f"    ) -> {cls}:",
        "        row = await self._pool.fetchrow(",
        f'            f"INSERT INTO {entity.plural} ({", ".join(writable)})"',
        f'            f" VALUES ({placeholders}) RETURNING {{COLUMNS}}",',
        *args,
        "        )",
        "        assert row is not None  # INSERT ... RETURNING always returns the row",
        f"        return {cls}(**row)",
        "",
        f"    async def update(self, {key}: uuid.UUID, **changes: object) -> {cls} | None:",
        "        unknown = changes.keys() - WRITABLE",
        "        if unknown:",
        '            raise ValueError(f"cannot update {sorted(unknown)}")',
        '        assignments = ", ".join(',
        '            f"{name} = ${number}" for number, name in enumerate(changes, start=2)',
        "        )",
        "        row = await self._pool.fetchrow(",
        f'            f"UPDATE {entity.plural} SET {{assignments}}"',
        '            f" WHERE id = $1 RETURNING {COLUMNS}",',
        f"            {key},",
        "            *changes.values(),",
        "        )",
        f"        return None if row is None else {cls}(**row)",
        "",
        f"    async def delete(self, {key}: uuid.UUID) -> bool:",
        "        status = await self._pool.execute(",
        f'            "DELETE FROM {entity.plural} WHERE id = $1", {key}',
        "        )",
        '        return status == "DELETE 1"',
    ]
    return "\n".join(lines)


def _named(entity: Entity) -> list[tuple[str, Field]]:
    every = [Field("id", "uuid", ""), *entity.fields]
    every += [Field("created_at", "time", ""), Field("updated_at", "time", "")]
    return [(field.name, field) for field in every]


def _python_type(field: Field) -> str:
    base = PYTHON_TYPES[base_kind(field)]
    return f"{base} | None" if is_nullable(field) else base


def sql_listing(entity: Entity) -> str:
    table = entity.plural
    width = max(len(name) for name in column_names(entity))
    columns = [f"    {'id'.ljust(width)}  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),"]
    indexes = [f"CREATE INDEX {table}_created_at_idx ON {table} (created_at DESC);"]
    for field in entity.fields:
        kind = base_kind(field)
        column = f"    {field.name.ljust(width)}  {SQL_TYPES[kind].ljust(11)}"
        column += " NULL" if is_nullable(field) else " NOT NULL"
        if ref := ref_table(field):
            column += f" REFERENCES {ref} (id)"
            indexes.append(f"CREATE INDEX {table}_{field.name}_idx ON {table} ({field.name});")
        if values := enum_values(field):
            quoted = ", ".join(f"'{value}'" for value in values)
            column += f"\n        CHECK ({field.name} IN ({quoted}))"
        if kind in ("int", "money"):
            column += f" CHECK ({field.name} >= 0)"
        columns.append(column + ",")
    columns.append(f"    {'created_at'.ljust(width)}  timestamptz NOT NULL DEFAULT now(),")
    columns.append(f"    {'updated_at'.ljust(width)}  timestamptz NOT NULL DEFAULT now()")
    lines = [
        f"-- {entity.summary}",
        f"CREATE TABLE {table} (",
        *columns,
        ");",
        "",
        *indexes,
        "",
        f"COMMENT ON TABLE {table} IS '{entity.summary.replace(chr(39), chr(39) * 2)}';",
        "",
        "-- updated_at is the database's job, so no code path can forget it.",
        f"CREATE TRIGGER {table}_touch",
        f"    BEFORE UPDATE ON {table}",
        "    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();",
        "",
        "-- What the admin tool lists: the last week, newest first.",
        f"CREATE VIEW {table}_recent AS",
        "SELECT",
        ",\n".join(f"    {name}" for name in column_names(entity)),
        f"FROM {table}",
        "WHERE created_at >= now() - interval '7 days';",
        "",
        "-- Rows created and changed per day over the last 30 days.",
        "SELECT date_trunc('day', created_at)                   AS day,",
        "       count(*)                                        AS created,",
        "       count(*) FILTER (WHERE updated_at > created_at) AS changed_since",
        f"FROM {table}",
        "WHERE created_at >= now() - interval '30 days'",
        "GROUP BY 1",
        "ORDER BY 1;",
    ]
    for field in entity.fields:
        if enum_values(field):
            lines += [
                "",
                f"-- How {table} divide by {field.name}.",
                f"SELECT {field.name},",
                "       count(*) AS total,",
                "       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS percent",
                f"FROM {table}",
                f"GROUP BY {field.name}",
                "ORDER BY total DESC;",
            ]
    for field in entity.fields:
        if (parent := ref_table(field)) and not is_nullable(field):
            lines += [
                "",
                f"-- The {parent} with the most {table}.",
                f"SELECT p.id, count(c.id) AS {table}",
                f"FROM {parent} AS p",
                f"JOIN {table} AS c ON c.{field.name} = p.id",
                "GROUP BY p.id",
                f"ORDER BY {table} DESC",
                "LIMIT 20;",
            ]
            break
    return "\n".join(lines)


def typescript_listing(entity: Entity) -> str:
    cls = class_name(entity)
    path = "/" + entity.plural.replace("_", "-")
    unions: list[str] = []
    members = ["  id: string;"]
    for field in entity.fields:
        if values := enum_values(field):
            union = cls + camel(field.name)[0].upper() + camel(field.name)[1:]
            literals = " | ".join(f'"{value}"' for value in values)
            unions.append(f"export type {union} = {literals};")
            ts_type = union
        else:
            ts_type = TS_TYPES[base_kind(field)]
        if is_nullable(field):
            ts_type += " | null"
        members.append(f"  {camel(field.name)}: {ts_type};")
    members += ["  createdAt: string;", "  updatedAt: string;"]
    lines = [
        *unions,
        *([""] if unions else []),
        f"export interface {cls} {{",
        *members,
        "}",
        "",
        f'export type New{cls} = Omit<{cls}, "id" | "createdAt" | "updatedAt">;',
        "",
        f"export class {cls}Client {{",
        "  constructor(",
        "    private readonly baseUrl: string,",
        "    private readonly token: string,",
        "  ) {}",
        "",
        f"  async get(id: string): Promise<{cls} | null> {{",
        f"    const response = await this.request(`{path}/${{encodeURIComponent(id)}}`);",
        "    if (response.status === 404) return null;",
        f"    return (await response.json()) as {cls};",
        "  }",
        "",
        f"  async page(before?: string, limit = 50): Promise<{cls}[]> {{",
        "    const params = new URLSearchParams({ limit: String(limit) });",
        '    if (before) params.set("before", before);',
        f"    const response = await this.request(`{path}?${{params}}`);",
        f"    return (await response.json()) as {cls}[];",
        "  }",
        "",
        f"  async create(input: New{cls}): Promise<{cls}> {{",
        f'    const response = await this.request("{path}", {{',
        '      method: "POST",',
        "      body: JSON.stringify(input),",
        "    });",
        f"    return (await response.json()) as {cls};",
        "  }",
        "",
        "  async remove(id: string): Promise<boolean> {",
        f"    const response = await this.request(`{path}/${{encodeURIComponent(id)}}`, {{",
        '      method: "DELETE",',
        "    });",
        "    return response.status === 204;",
        "  }",
        "",
        "  private async request(path: string, init: RequestInit = {}): Promise<Response> {",
        "    const response = await fetch(`${this.baseUrl}${path}`, {",
        "      ...init,",
        "      headers: {",
        "        Authorization: `Bearer ${this.token}`,",
        '        "Content-Type": "application/json",',
        "      },",
        "    });",
        "    if (!response.ok && response.status !== 404) {",
        '      const method = init.method ?? "GET";',
        "      throw new Error(`${method} ${path} failed with ${response.status}`);",
        "    }",
        "    return response;",
        "  }",
        "}",
    ]
    return "\n".join(lines)
