-- media_items has updated_at: attach the trigger that keeps it.
SELECT fanfare_attach_updated_at_triggers();
