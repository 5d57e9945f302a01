CREATE TABLE "content" (
	"id" uuid PRIMARY KEY NOT NULL,
	"creator_id" uuid NOT NULL,
	"organization_id" uuid,
	"media_item_id" uuid,
	"title" varchar(500) NOT NULL,
	"slug" varchar(500) NOT NULL,
	"description" text,
	"content_type" varchar(20) NOT NULL,
	"thumbnail_url" text,
	"content_body" text,
	"category" varchar(100),
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"series_id" uuid,
	"visibility" varchar(20) DEFAULT 'purchased_only' NOT NULL,
	"price_cents" integer,
	"currency" varchar(3) DEFAULT 'USD' NOT NULL,
	"status" varchar(20) DEFAULT 'draft' NOT NULL,
	"published_at" timestamp with time zone,
	"view_count" integer DEFAULT 0 NOT NULL,
	"purchase_count" integer DEFAULT 0 NOT NULL,
	"prerequisite_content_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')) STORED,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "content_type_check" CHECK ("content"."content_type" in ('video', 'audio', 'written')),
	CONSTRAINT "content_visibility_check" CHECK ("content"."visibility" in ('public', 'private', 'members_only', 'purchased_only')),
	CONSTRAINT "content_status_check" CHECK ("content"."status" in ('draft', 'published', 'archived')),
	CONSTRAINT "content_price_positive" CHECK ("content"."price_cents" is null or "content"."price_cents" > 0),
	CONSTRAINT "content_currency_format" CHECK ("content"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "content_media_matches_type" CHECK (("content"."content_type" = 'written') = ("content"."media_item_id" is null)),
	CONSTRAINT "content_counts_non_negative" CHECK ("content"."view_count" >= 0 and "content"."purchase_count" >= 0),
	CONSTRAINT "content_published_has_date" CHECK ("content"."status" <> 'published' or "content"."published_at" is not null)
);
--> statement-breakpoint
CREATE TABLE "content_access" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"content_id" uuid NOT NULL,
	"organization_id" uuid,
	"access_type" varchar(20) NOT NULL,
	"purchase_id" uuid,
	"granted_by" uuid,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"last_accessed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "check_access_type" CHECK ("content_access"."access_type" in ('purchased', 'subscription', 'complimentary', 'preview'))
);
--> statement-breakpoint
CREATE TABLE "content_series" (
	"id" uuid PRIMARY KEY NOT NULL,
	"creator_id" uuid NOT NULL,
	"organization_id" uuid,
	"title" varchar(500) NOT NULL,
	"slug" varchar(500) NOT NULL,
	"description" text,
	"thumbnail_url" text,
	"price_cents" integer,
	"currency" varchar(3) DEFAULT 'USD' NOT NULL,
	"content_order" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status" varchar(20) DEFAULT 'draft' NOT NULL,
	"published_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "content_series_status_check" CHECK ("content_series"."status" in ('draft', 'published', 'archived')),
	CONSTRAINT "content_series_price_positive" CHECK ("content_series"."price_cents" is null or "content_series"."price_cents" > 0),
	CONSTRAINT "content_series_currency_format" CHECK ("content_series"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "content_views" (
	"content_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"day" date NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "content_views_content_id_user_id_day_pk" PRIMARY KEY("content_id","user_id","day")
);
--> statement-breakpoint
CREATE TABLE "creator_fee_rates" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"platform_fee_bps" integer NOT NULL,
	"set_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "creator_fee_rates_range" CHECK ("creator_fee_rates"."platform_fee_bps" >= 0 and "creator_fee_rates"."platform_fee_bps" <= 10000)
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid,
	"session_id" varchar(255),
	"event_type" varchar(100) NOT NULL,
	"event_data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ip_address" varchar(45),
	"user_agent" text,
	"referrer" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platform_settings" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"platform_name" varchar(255) DEFAULT 'My Platform' NOT NULL,
	"logo_url" text,
	"primary_color" varchar(7) DEFAULT '#3b82f6' NOT NULL,
	"hero_title" varchar(500),
	"hero_subtitle" text,
	"hero_background_url" text,
	"hero_cta_text" varchar(100),
	"hero_cta_link" varchar(500),
	"featured_content_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"contact_email" varchar(255),
	"social_links" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"about_content" text,
	"stripe_account_id" varchar(255),
	"email_from_name" varchar(255),
	"timezone" varchar(50) DEFAULT 'UTC' NOT NULL,
	"platform_fee_bps" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "platform_settings_color_format" CHECK ("platform_settings"."primary_color" ~ '^#[0-9A-Fa-f]{6}$'),
	CONSTRAINT "platform_settings_fee_bps_range" CHECK ("platform_settings"."platform_fee_bps" is null or ("platform_settings"."platform_fee_bps" >= 0 and "platform_settings"."platform_fee_bps" <= 10000))
);
--> statement-breakpoint
CREATE TABLE "purchases" (
	"id" uuid PRIMARY KEY NOT NULL,
	"customer_id" uuid NOT NULL,
	"content_id" uuid,
	"series_id" uuid,
	"creator_id" uuid NOT NULL,
	"organization_id" uuid,
	"payment_id" uuid,
	"amount_paid_cents" integer NOT NULL,
	"currency" varchar(3) NOT NULL,
	"stripe_payment_intent_id" varchar(255),
	"platform_fee_cents" integer DEFAULT 0 NOT NULL,
	"creator_payout_cents" integer NOT NULL,
	"platform_fee_bps" integer NOT NULL,
	"platform_fee_source" varchar(20) NOT NULL,
	"status" varchar(20) DEFAULT 'pending' NOT NULL,
	"purchased_at" timestamp with time zone,
	"refunded_at" timestamp with time zone,
	"refund_reason" text,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "purchases_stripePaymentIntentId_unique" UNIQUE("stripe_payment_intent_id"),
	CONSTRAINT "check_purchase_status" CHECK ("purchases"."status" in ('pending', 'completed', 'refunded', 'failed', 'expired')),
	CONSTRAINT "check_amount_positive" CHECK ("purchases"."amount_paid_cents" >= 0),
	CONSTRAINT "purchases_one_item" CHECK (("purchases"."content_id" is null) <> ("purchases"."series_id" is null)),
	CONSTRAINT "purchases_split_sums" CHECK ("purchases"."platform_fee_cents" >= 0 and "purchases"."creator_payout_cents" >= 0 and "purchases"."platform_fee_cents" + "purchases"."creator_payout_cents" = "purchases"."amount_paid_cents"),
	CONSTRAINT "purchases_fee_source_check" CHECK ("purchases"."platform_fee_source" in ('creator', 'organization', 'platform')),
	CONSTRAINT "purchases_currency_format" CHECK ("purchases"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "video_playback" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"content_id" uuid NOT NULL,
	"position_seconds" integer DEFAULT 0 NOT NULL,
	"duration_seconds" integer NOT NULL,
	"completed" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "video_playback_position_valid" CHECK ("video_playback"."position_seconds" >= 0 and "video_playback"."duration_seconds" > 0 and "video_playback"."position_seconds" <= "video_playback"."duration_seconds")
);
--> statement-breakpoint
ALTER TABLE "content" ADD CONSTRAINT "content_creator_id_users_id_fk" FOREIGN KEY ("creator_id") REFERENCES "public"."users"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content" ADD CONSTRAINT "content_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content" ADD CONSTRAINT "content_media_item_id_media_items_id_fk" FOREIGN KEY ("media_item_id") REFERENCES "public"."media_items"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content" ADD CONSTRAINT "content_series_id_content_series_id_fk" FOREIGN KEY ("series_id") REFERENCES "public"."content_series"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_access" ADD CONSTRAINT "content_access_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_access" ADD CONSTRAINT "content_access_content_id_content_id_fk" FOREIGN KEY ("content_id") REFERENCES "public"."content"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_access" ADD CONSTRAINT "content_access_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_access" ADD CONSTRAINT "content_access_purchase_id_purchases_id_fk" FOREIGN KEY ("purchase_id") REFERENCES "public"."purchases"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_access" ADD CONSTRAINT "content_access_granted_by_users_id_fk" FOREIGN KEY ("granted_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_series" ADD CONSTRAINT "content_series_creator_id_users_id_fk" FOREIGN KEY ("creator_id") REFERENCES "public"."users"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_series" ADD CONSTRAINT "content_series_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_views" ADD CONSTRAINT "content_views_content_id_content_id_fk" FOREIGN KEY ("content_id") REFERENCES "public"."content"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "content_views" ADD CONSTRAINT "content_views_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "creator_fee_rates" ADD CONSTRAINT "creator_fee_rates_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "creator_fee_rates" ADD CONSTRAINT "creator_fee_rates_set_by_users_id_fk" FOREIGN KEY ("set_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "platform_settings" ADD CONSTRAINT "platform_settings_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_customer_id_users_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."users"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_content_id_content_id_fk" FOREIGN KEY ("content_id") REFERENCES "public"."content"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_series_id_content_series_id_fk" FOREIGN KEY ("series_id") REFERENCES "public"."content_series"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_creator_id_users_id_fk" FOREIGN KEY ("creator_id") REFERENCES "public"."users"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "video_playback" ADD CONSTRAINT "video_playback_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "video_playback" ADD CONSTRAINT "video_playback_content_id_content_id_fk" FOREIGN KEY ("content_id") REFERENCES "public"."content"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_content_creator_id" ON "content" USING btree ("creator_id");--> statement-breakpoint
CREATE INDEX "idx_content_organization_id" ON "content" USING btree ("organization_id") WHERE "content"."organization_id" is not null;--> statement-breakpoint
CREATE INDEX "idx_content_media_item_id" ON "content" USING btree ("media_item_id");--> statement-breakpoint
CREATE INDEX "idx_content_status" ON "content" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_content_published_at" ON "content" USING btree ("published_at");--> statement-breakpoint
CREATE INDEX "idx_content_category" ON "content" USING btree ("category");--> statement-breakpoint
CREATE INDEX "idx_content_series_id" ON "content" USING btree ("series_id");--> statement-breakpoint
CREATE INDEX "idx_content_catalog" ON "content" USING btree ("id") WHERE "content"."status" = 'published' and "content"."visibility" <> 'private' and "content"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "idx_content_search" ON "content" USING gin ("search");--> statement-breakpoint
CREATE INDEX "idx_content_tags" ON "content" USING gin ("tags");--> statement-breakpoint
CREATE UNIQUE INDEX "content_org_slug_unique" ON "content" USING btree ("organization_id","slug") WHERE "content"."organization_id" is not null and "content"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "content_personal_slug_unique" ON "content" USING btree ("creator_id","slug") WHERE "content"."organization_id" is null and "content"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "content_access_user_content_unique" ON "content_access" USING btree ("user_id","content_id");--> statement-breakpoint
CREATE INDEX "idx_content_access_content_id" ON "content_access" USING btree ("content_id");--> statement-breakpoint
CREATE INDEX "idx_content_access_organization_id" ON "content_access" USING btree ("organization_id");--> statement-breakpoint
CREATE INDEX "idx_content_access_expires_at" ON "content_access" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "idx_series_creator_id" ON "content_series" USING btree ("creator_id");--> statement-breakpoint
CREATE UNIQUE INDEX "content_series_org_slug_unique" ON "content_series" USING btree ("organization_id","slug") WHERE "content_series"."organization_id" is not null and "content_series"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "content_series_personal_slug_unique" ON "content_series" USING btree ("creator_id","slug") WHERE "content_series"."organization_id" is null and "content_series"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "idx_events_user_id" ON "events" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_events_type" ON "events" USING btree ("event_type","created_at");--> statement-breakpoint
CREATE INDEX "idx_events_created_at" ON "events" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "platform_settings_org_unique" ON "platform_settings" USING btree ("organization_id");--> statement-breakpoint
CREATE UNIQUE INDEX "platform_settings_platform_singleton" ON "platform_settings" USING btree ((true)) WHERE "platform_settings"."organization_id" is null;--> statement-breakpoint
CREATE INDEX "idx_purchases_customer_id" ON "purchases" USING btree ("customer_id","id");--> statement-breakpoint
CREATE INDEX "idx_purchases_content_id" ON "purchases" USING btree ("content_id");--> statement-breakpoint
CREATE INDEX "idx_purchases_series_id" ON "purchases" USING btree ("series_id");--> statement-breakpoint
CREATE INDEX "idx_purchases_creator_id" ON "purchases" USING btree ("creator_id","id");--> statement-breakpoint
CREATE INDEX "idx_purchases_organization_id" ON "purchases" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "idx_purchases_status" ON "purchases" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_purchases_created_at" ON "purchases" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_purchases_pending_expiry" ON "purchases" USING btree ("expires_at") WHERE "purchases"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "idx_purchases_payment" ON "purchases" USING btree ("payment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "purchases_one_live_per_content" ON "purchases" USING btree ("customer_id","content_id") WHERE "purchases"."content_id" is not null and "purchases"."status" in ('pending', 'completed');--> statement-breakpoint
CREATE UNIQUE INDEX "purchases_one_live_per_series" ON "purchases" USING btree ("customer_id","series_id") WHERE "purchases"."series_id" is not null and "purchases"."status" in ('pending', 'completed');--> statement-breakpoint
CREATE UNIQUE INDEX "video_playback_user_content_unique" ON "video_playback" USING btree ("user_id","content_id");--> statement-breakpoint
CREATE INDEX "idx_video_playback_user_recent" ON "video_playback" USING btree ("user_id","updated_at");--> statement-breakpoint
CREATE INDEX "idx_video_playback_content_id" ON "video_playback" USING btree ("content_id");