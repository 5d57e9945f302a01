CREATE TABLE "media_items" (
	"id" uuid PRIMARY KEY NOT NULL,
	"creator_id" uuid NOT NULL,
	"organization_id" uuid,
	"title" varchar(255) NOT NULL,
	"description" text,
	"media_type" varchar(10) NOT NULL,
	"status" varchar(20) DEFAULT 'uploading' NOT NULL,
	"r2_key" varchar(500) NOT NULL,
	"file_size_bytes" bigint,
	"mime_type" varchar(100),
	"duration_seconds" integer,
	"width" integer,
	"height" integer,
	"hls_master_playlist_key" varchar(500),
	"thumbnail_key" varchar(500),
	"uploaded_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "media_items_media_type_check" CHECK ("media_items"."media_type" in ('video', 'audio')),
	CONSTRAINT "media_items_status_check" CHECK ("media_items"."status" in ('uploading', 'uploaded', 'transcoding', 'ready', 'failed')),
	CONSTRAINT "media_items_file_size_non_negative" CHECK ("media_items"."file_size_bytes" is null or "media_items"."file_size_bytes" >= 0),
	CONSTRAINT "media_items_dimensions_positive" CHECK (("media_items"."width" is null or "media_items"."width" > 0) and ("media_items"."height" is null or "media_items"."height" > 0)),
	CONSTRAINT "media_items_duration_non_negative" CHECK ("media_items"."duration_seconds" is null or "media_items"."duration_seconds" >= 0)
);
--> statement-breakpoint
ALTER TABLE "media_items" ADD CONSTRAINT "media_items_creator_id_users_id_fk" FOREIGN KEY ("creator_id") REFERENCES "public"."users"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "media_items" ADD CONSTRAINT "media_items_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_media_items_creator_id" ON "media_items" USING btree ("creator_id") WHERE "media_items"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "idx_media_items_status" ON "media_items" USING btree ("creator_id","status") WHERE "media_items"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "idx_media_items_type" ON "media_items" USING btree ("creator_id","media_type") WHERE "media_items"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "idx_media_items_organization_id" ON "media_items" USING btree ("organization_id") WHERE "media_items"."organization_id" is not null and "media_items"."deleted_at" is null;