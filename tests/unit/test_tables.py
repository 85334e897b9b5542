"""The tables' one definition: one metadata per service, no schema name, every table placed.

That the migrations create exactly these tables is checked against the database in
``tests/integration/test_tables_match_migrations.py``."""

from __future__ import annotations

from sqlmodel import SQLModel

from services.coordination import tables as coordination_tables
from services.intake import tables as intake_tables


def test_each_service_has_its_own_metadata_and_no_schema_name() -> None:
    intake = set(intake_tables.METADATA.tables)
    coordination = set(coordination_tables.METADATA.tables)

    assert intake == {"submission_ledger", "access_tokens"}
    assert not intake & coordination
    assert not SQLModel.metadata.tables  # nothing in SQLModel's shared default registry
    assert all(
        table.schema is None
        for metadata in (intake_tables.METADATA, coordination_tables.METADATA)
        for table in metadata.tables.values()
    )


def test_every_coordination_table_is_either_a_projection_or_a_record() -> None:
    projections = {str(t.__tablename__) for t in coordination_tables.PROJECTIONS}
    records = {str(t.__tablename__) for t in coordination_tables.RECORDS}

    assert not projections & records
    assert projections | records == set(coordination_tables.METADATA.tables)
