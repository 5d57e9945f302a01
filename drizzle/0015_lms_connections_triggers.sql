-- lms_connections.updated_at is kept by the database, as on every table.
SELECT fanfare_attach_updated_at_triggers();
