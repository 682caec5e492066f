"""One comparison of peewee models with a migrated database, used for the box and the hub.

The schema is made by frozen SQL migrations, not by peewee, so nothing but a test keeps the
model classes true to it. `schema_problems` reads the live database (SQLite or PostgreSQL)
through peewee's introspection and lists, in words, every way the models and the tables differ:

- a model's table is missing;
- a model column is missing, or has an incompatible type, or differs in nullability;
- the table has a column the model lacks (unless the caller explains it);
- the primary key differs;
- a foreign key the model declares is missing, points elsewhere or deletes differently, or the
  table has one the model does not declare;
- an index or unique constraint the model declares is missing, or the table enforces a unique
  index the model does not declare (unless explained).

`unmodelled_tables` lists tables that no model covers, less the explained ones.

Types are compared the way each database uses them: on SQLite by column affinity (SQLite keeps
any declared type as text and ignores lengths; what changes how a value is stored is the affinity
rule of https://www.sqlite.org/datatype3.html#determination_of_column_affinity); on PostgreSQL by
the exact type, lengths and precision included, because PostgreSQL enforces them.
"""

from __future__ import annotations

import re
import sys

import peewee as pw

# peewee's DDL type names (as it renders them for PostgreSQL) and how PostgreSQL's format_type()
# spells the same type back.
POSTGRES_SPELLINGS = {
    "serial": "integer",
    "bigserial": "bigint",
    "integer": "integer",
    "bigint": "bigint",
    "smallint": "smallint",
    "boolean": "boolean",
    "text": "text",
    "date": "date",
    "time": "time without time zone",
    "timestamp": "timestamp without time zone",
    "real": "real",
    "double precision": "double precision",
    "bytea": "bytea",
    "jsonb": "jsonb",
    "uuid": "uuid",
}


def models_defined_in(module_name: str) -> list[type[pw.Model]]:
    """Every model class defined in the module `module_name` (abstract BaseModel excluded), in
    definition order: a model left out of a hand-kept list is still checked."""
    module = sys.modules[module_name]
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, pw.Model)
        and value.__module__ == module_name
        and value.__name__ != "BaseModel"
    ]


def sqlite_affinity(declared: str) -> str:
    """SQLite's affinity for a declared column type (its five rules, in order)."""
    upper = (declared or "").upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not upper or "BLOB" in upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def postgres_spelling(ddl: str) -> str:
    """A peewee DDL type (e.g. `VARCHAR(255)`, `NUMERIC(12, 4)`, `SERIAL`) as format_type() writes it."""
    text = ddl.strip().lower()
    match = re.fullmatch(r"(varchar|numeric|decimal|char)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", text)
    if match:
        kind, first, second = match.groups()
        name = {"varchar": "character varying", "char": "character", "decimal": "numeric"}.get(kind, kind)
        return f"{name}({first},{second})" if second is not None else f"{name}({first})"
    if text == "varchar":
        return "character varying"
    return POSTGRES_SPELLINGS.get(text, text)


def model_ddl_type(db: pw.Database, field: pw.Field) -> str:
    """The column type peewee itself would create for `field` on `db`."""
    context = db.get_sql_context()
    return context.sql(field.ddl_datatype(context)).query()[0]


def compatible(db: pw.Database, expected_ddl: str, column: pw.ColumnMetadata) -> bool:
    if isinstance(db, pw.PostgresqlDatabase):
        return postgres_spelling(expected_ddl) == column.full_type
    return sqlite_affinity(expected_ddl) == sqlite_affinity(column.data_type)


def unwrap(db):
    """The real database behind a peewee DatabaseProxy."""
    return db.obj if isinstance(db, pw.DatabaseProxy) else db


def schema_problems(
    db: pw.Database,
    models,
    extra_columns: dict[tuple[str, str], str] | None = None,
    extra_unique_indexes: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """Every difference between `models` and the tables of the connected `db`, in words.

    `extra_columns` and `extra_unique_indexes` map (table, column or index name) to the reason a
    column or unique index the models do not declare is there on purpose.
    """
    db = unwrap(db)
    extra_columns = extra_columns or {}
    extra_unique_indexes = extra_unique_indexes or {}
    tables = set(db.get_tables())
    problems: list[str] = []
    for model in models:
        table = model._meta.table_name
        where = f"{model.__name__} ({table})"
        if table not in tables:
            problems.append(f"{where}: table missing")
            continue
        columns = {column.name: column for column in db.get_columns(table)}
        for field in model._meta.sorted_fields:
            column = columns.get(field.column_name)
            if column is None:
                problems.append(f"{where}: column {field.column_name} missing")
                continue
            expected = model_ddl_type(db, field)
            if not compatible(db, expected, column):
                problems.append(
                    f"{where}: column {field.column_name} is {column.full_type or column.data_type}, "
                    f"the model's {type(field).__name__} needs {expected}"
                )
            if column.null != bool(field.null):
                problems.append(
                    f"{where}: column {field.column_name} is {'NULL' if column.null else 'NOT NULL'}, "
                    f"the model says null={field.null}"
                )
        modelled = {field.column_name for field in model._meta.sorted_fields}
        for name in columns.keys() - modelled:
            if (table, name) not in extra_columns:
                problems.append(f"{where}: table has column {name} that the model lacks")
        for table_name, name in extra_columns:
            if table_name == table and name not in columns:
                problems.append(f"{where}: explained extra column {name} is not in the table")

        primary_key = [field.column_name for field in model._meta.get_primary_keys()]
        actual_key = db.get_primary_keys(table)
        if sorted(primary_key) != sorted(actual_key):
            problems.append(f"{where}: primary key is {actual_key}, the model says {primary_key}")

        problems += _foreign_key_problems(db, model, where)
        problems += _index_problems(db, model, where, primary_key, extra_unique_indexes)
    return problems


def _foreign_key_problems(db, model, where) -> list[str]:
    table = model._meta.table_name
    actual = {fk.column: fk for fk in db.get_foreign_keys(table)}
    problems = []
    declared = {}
    for field in model._meta.sorted_fields:
        if not isinstance(field, pw.ForeignKeyField):
            continue
        declared[field.column_name] = field
        fk = actual.get(field.column_name)
        target = (field.rel_model._meta.table_name, field.rel_field.column_name)
        if fk is None:
            problems.append(f"{where}: no foreign key on {field.column_name} (the model points it at {target})")
            continue
        if (fk.dest_table, fk.dest_column) != target:
            problems.append(
                f"{where}: foreign key {field.column_name} points at {(fk.dest_table, fk.dest_column)}, "
                f"the model at {target}"
            )
        wanted = (field.on_delete or "NO ACTION").upper()
        if (fk.on_delete or "NO ACTION").upper() != wanted:
            problems.append(f"{where}: foreign key {field.column_name} is ON DELETE {fk.on_delete}, the model {wanted}")
    for column in actual.keys() - declared.keys():
        problems.append(f"{where}: table has a foreign key on {column} that the model does not declare")
    return problems


def _index_problems(db, model, where, primary_key, extra_unique_indexes) -> list[str]:
    table = model._meta.table_name
    indexes = db.get_indexes(table)
    problems = []
    declared_unique = set()
    for index in model._meta.fields_to_index():
        columns = [part.column_name for part in index._expressions]
        if index._unique:
            declared_unique.add(frozenset(columns))
            if not any(actual.unique and set(actual.columns) == set(columns) for actual in indexes):
                problems.append(f"{where}: no unique index on {columns}")
        elif not any(set(actual.columns) == set(columns) for actual in indexes):
            problems.append(f"{where}: no index on {columns}")
    for actual in indexes:
        columns = frozenset(actual.columns)
        if not actual.unique or columns == frozenset(primary_key) or columns in declared_unique:
            continue
        if (table, actual.name) not in extra_unique_indexes:
            problems.append(
                f"{where}: unique index {actual.name} on {list(actual.columns)} is not declared by the model"
            )
    return problems


def unmodelled_tables(db: pw.Database, models, explained: dict[str, str]) -> list[str]:
    """Tables in `db` that no model in `models` covers and `explained` does not account for, and
    explained tables that are not there (an explanation out of date)."""
    db = unwrap(db)
    tables = set(db.get_tables())
    modelled = {model._meta.table_name for model in models}
    return sorted(tables - modelled - explained.keys()) + sorted(
        f"{name} (explained, but missing)" for name in explained.keys() - tables
    )
