-- platforms, platform_api_keys, payplay_grants and payplay_settlements have updated_at: attach the
-- trigger that keeps it. playback_sessions has none on purpose (the metering engine rewrites its rows).
SELECT fanfare_attach_updated_at_triggers();
