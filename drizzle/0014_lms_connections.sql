CREATE TABLE "lms_connections" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"organization_id" uuid,
	"platform" varchar(20) NOT NULL,
	"url" varchar(500) NOT NULL,
	"api_key" text,
	"api_secret" text,
	"status" varchar(20) DEFAULT 'active' NOT NULL,
	"site_name" varchar(255),
	"last_tested_at" timestamp with time zone,
	"last_sync_at" timestamp with time zone,
	"last_error" text,
	"course_count" integer,
	"courses" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lms_connections_platform_check" CHECK ("lms_connections"."platform" in ('moodle', 'canvas')),
	CONSTRAINT "lms_connections_status_check" CHECK ("lms_connections"."status" in ('active', 'inactive', 'error')),
	CONSTRAINT "lms_connections_url_check" CHECK ("lms_connections"."url" ~* '^https?://'),
	CONSTRAINT "lms_connections_course_count_check" CHECK ("lms_connections"."course_count" is null or "lms_connections"."course_count" >= 0)
);
--> statement-breakpoint
ALTER TABLE "lms_connections" ADD CONSTRAINT "lms_connections_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lms_connections" ADD CONSTRAINT "lms_connections_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_lms_connections_user_id" ON "lms_connections" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_lms_connections_platform" ON "lms_connections" USING btree ("platform");--> statement-breakpoint
CREATE INDEX "idx_lms_connections_organization_id" ON "lms_connections" USING btree ("organization_id") WHERE "lms_connections"."organization_id" is not null;