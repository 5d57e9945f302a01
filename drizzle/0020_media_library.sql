ALTER TABLE "media_items" ADD COLUMN "expected_size_bytes" bigint;--> statement-breakpoint
ALTER TABLE "media_items" ADD COLUMN "upload_id" varchar(100);--> statement-breakpoint
ALTER TABLE "media_items" ADD COLUMN "failure_reason" text;--> statement-breakpoint
ALTER TABLE "media_items" ADD COLUMN "transcode_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "media_items" ADD COLUMN "transcode_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "media_items" ADD COLUMN "transcoded_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "media_items" ADD COLUMN "renditions" jsonb;--> statement-breakpoint
CREATE INDEX "idx_media_items_pending" ON "media_items" USING btree ("status","updated_at") WHERE "media_items"."status" in ('uploaded', 'transcoding') and "media_items"."deleted_at" is null;--> statement-breakpoint
ALTER TABLE "media_items" ADD CONSTRAINT "media_items_expected_size_positive" CHECK ("media_items"."expected_size_bytes" is null or "media_items"."expected_size_bytes" > 0);--> statement-breakpoint
ALTER TABLE "media_items" ADD CONSTRAINT "media_items_transcode_attempts_non_negative" CHECK ("media_items"."transcode_attempts" >= 0);