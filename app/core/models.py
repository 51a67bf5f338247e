"""The base kit of every table and API model: id type, request models, enum checks."""

from enum import StrEnum
from typing import Any, ClassVar, cast

from pydantic import ConfigDict, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Integer, Table
from sqlmodel import SQLModel

# Stable constraint names, so migrations can name what they drop on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Set on SQLModel's own metadata, which every table module reaches through this module
# (IdType) before it defines a table.
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the rowid alias.
IdType = BigInteger().with_variant(Integer, "sqlite")


def id_reference(target: str, *, ondelete: str, **options: Any) -> Column[Any]:
    """An id column holding a foreign key to `target` ("table.id"); `options` are Column's
    (nullable, primary_key)."""
    return Column(IdType, ForeignKey(target, ondelete=ondelete), **options)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for the statements written in SQLAlchemy Core."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def enum_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """A CHECK that the column holds one of the enum's values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


class RequestModel(SQLModel):
    """Request bodies refuse unknown fields: no mass assignment of read-only ones."""

    model_config = ConfigDict(extra="forbid")


class PatchModel(RequestModel):
    non_nullable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # A field that may be left out but never set to null: the document says so, as
        # _no_null_for_required below enforces it.
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name in cls.non_nullable:
            field = schema["properties"][name]
            options = [o for o in field.get("anyOf", ()) if o != {"type": "null"}]
            if len(options) == 1:
                del field["anyOf"]
                field.update(options[0])
        return schema

    # A field validator (not a model one), so that the 422 names the field itself.
    @field_validator("*")
    @classmethod
    def _no_null_for_required(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.non_nullable:
            raise ValueError(f"{info.field_name} cannot be null")
        return value
