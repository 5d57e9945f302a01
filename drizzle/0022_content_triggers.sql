-- content, content_series, purchases, content_access, video_playback, platform_settings and
-- creator_fee_rates have updated_at: attach the trigger that keeps it.
SELECT fanfare_attach_updated_at_triggers();
