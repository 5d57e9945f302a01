CREATE TABLE "payplay_grants" (
	"id" uuid PRIMARY KEY NOT NULL,
	"platform_id" uuid NOT NULL,
	"user_id" uuid,
	"code" varchar(32) NOT NULL,
	"status" varchar(20) DEFAULT 'pending' NOT NULL,
	"currency" varchar(3) NOT NULL,
	"price_per_minute" bigint NOT NULL,
	"daily_cap" bigint,
	"spent_day" date,
	"spent_today" bigint DEFAULT 0 NOT NULL,
	"external_ref" varchar(255),
	"expires_at" timestamp with time zone NOT NULL,
	"approved_at" timestamp with time zone,
	"denied_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payplay_grants_status_check" CHECK ("payplay_grants"."status" in ('pending', 'active', 'denied', 'revoked', 'expired')),
	CONSTRAINT "payplay_grants_price_check" CHECK ("payplay_grants"."price_per_minute" > 0),
	CONSTRAINT "payplay_grants_cap_check" CHECK ("payplay_grants"."daily_cap" is null or "payplay_grants"."daily_cap" > 0),
	CONSTRAINT "payplay_grants_user_when_approved" CHECK ("payplay_grants"."status" in ('pending', 'expired', 'denied') or "payplay_grants"."user_id" is not null)
);
--> statement-breakpoint
CREATE TABLE "payplay_settlements" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"currency" varchar(3) NOT NULL,
	"day" date NOT NULL,
	"gross" bigint NOT NULL,
	"commission" bigint NOT NULL,
	"net" bigint NOT NULL,
	"sessions" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platform_api_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"platform_id" uuid NOT NULL,
	"name" varchar(100) NOT NULL,
	"start" varchar(16) NOT NULL,
	"key_hash" varchar(64) NOT NULL,
	"created_by" uuid,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"replaced_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platforms" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"user_id" uuid,
	"name" varchar(255) NOT NULL,
	"type" varchar(10) NOT NULL,
	"description" text,
	"website_url" varchar(500),
	"webhook_url" varchar(500),
	"status" varchar(20) DEFAULT 'active' NOT NULL,
	"currency" varchar(3) NOT NULL,
	"price_per_minute" bigint NOT NULL,
	"billing_unit_seconds" integer DEFAULT 60 NOT NULL,
	"commission_bps" integer NOT NULL,
	"suspended_at" timestamp with time zone,
	"suspended_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "platforms_type_check" CHECK ("platforms"."type" in ('video', 'lms', 'course')),
	CONSTRAINT "platforms_status_check" CHECK ("platforms"."status" in ('active', 'inactive', 'suspended')),
	CONSTRAINT "platforms_price_check" CHECK ("platforms"."price_per_minute" > 0),
	CONSTRAINT "platforms_unit_check" CHECK ("platforms"."billing_unit_seconds" between 1 and 3600),
	CONSTRAINT "platforms_commission_check" CHECK ("platforms"."commission_bps" between 0 and 10000)
);
--> statement-breakpoint
CREATE TABLE "playback_sessions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"platform_id" uuid NOT NULL,
	"grant_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"wallet_id" uuid NOT NULL,
	"wallet_account_id" uuid NOT NULL,
	"partner_account_id" uuid NOT NULL,
	"revenue_account_id" uuid NOT NULL,
	"content_id" varchar(255) NOT NULL,
	"content_title" varchar(255),
	"currency" varchar(3) NOT NULL,
	"price_per_minute" bigint NOT NULL,
	"billing_unit_seconds" integer NOT NULL,
	"commission_bps" integer NOT NULL,
	"status" varchar(20) DEFAULT 'active' NOT NULL,
	"end_reason" varchar(30),
	"started_at" timestamp with time zone NOT NULL,
	"last_heartbeat_at" timestamp with time zone NOT NULL,
	"heartbeats" integer DEFAULT 0 NOT NULL,
	"billed_units" integer DEFAULT 0 NOT NULL,
	"paid_until_at" timestamp with time zone NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"total_cost" bigint DEFAULT 0 NOT NULL,
	"commission_total" bigint DEFAULT 0 NOT NULL,
	"charges" integer DEFAULT 0 NOT NULL,
	"ended_at" timestamp with time zone,
	"duration_seconds" integer,
	"finalized_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "playback_sessions_status_check" CHECK ("playback_sessions"."status" in ('active', 'completed', 'cancelled')),
	CONSTRAINT "playback_sessions_end_reason_check" CHECK ("playback_sessions"."end_reason" is null or "playback_sessions"."end_reason" in ('stopped', 'idle', 'insufficient_funds', 'spending_cap', 'grant_revoked', 'platform_inactive')),
	CONSTRAINT "playback_sessions_ended_consistent" CHECK (("playback_sessions"."status" = 'active') = ("playback_sessions"."ended_at" is null)),
	CONSTRAINT "playback_sessions_duration_check" CHECK ("playback_sessions"."duration_seconds" is null or "playback_sessions"."duration_seconds" >= 0),
	CONSTRAINT "playback_sessions_cost_check" CHECK ("playback_sessions"."total_cost" >= 0 and "playback_sessions"."commission_total" >= 0 and "playback_sessions"."commission_total" <= "playback_sessions"."total_cost"),
	CONSTRAINT "playback_sessions_price_check" CHECK ("playback_sessions"."price_per_minute" > 0)
);
--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "average_minute_cost" bigint;--> statement-breakpoint
ALTER TABLE "payplay_grants" ADD CONSTRAINT "payplay_grants_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payplay_grants" ADD CONSTRAINT "payplay_grants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payplay_settlements" ADD CONSTRAINT "payplay_settlements_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "platform_api_keys" ADD CONSTRAINT "platform_api_keys_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "platform_api_keys" ADD CONSTRAINT "platform_api_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "platforms" ADD CONSTRAINT "platforms_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "platforms" ADD CONSTRAINT "platforms_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_grant_id_payplay_grants_id_fk" FOREIGN KEY ("grant_id") REFERENCES "public"."payplay_grants"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_wallet_id_wallets_id_fk" FOREIGN KEY ("wallet_id") REFERENCES "public"."wallets"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_wallet_account_id_ledger_accounts_id_fk" FOREIGN KEY ("wallet_account_id") REFERENCES "public"."ledger_accounts"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_partner_account_id_ledger_accounts_id_fk" FOREIGN KEY ("partner_account_id") REFERENCES "public"."ledger_accounts"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playback_sessions" ADD CONSTRAINT "playback_sessions_revenue_account_id_ledger_accounts_id_fk" FOREIGN KEY ("revenue_account_id") REFERENCES "public"."ledger_accounts"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "payplay_grants_code_unique" ON "payplay_grants" USING btree ("code");--> statement-breakpoint
CREATE INDEX "idx_payplay_grants_user" ON "payplay_grants" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "idx_payplay_grants_platform" ON "payplay_grants" USING btree ("platform_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "payplay_settlements_org_day" ON "payplay_settlements" USING btree ("organization_id","currency","day");--> statement-breakpoint
CREATE UNIQUE INDEX "platform_api_keys_hash_unique" ON "platform_api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "idx_platform_api_keys_platform" ON "platform_api_keys" USING btree ("platform_id","id");--> statement-breakpoint
CREATE INDEX "idx_platforms_org" ON "platforms" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "idx_platforms_user_id" ON "platforms" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_platforms_type" ON "platforms" USING btree ("type");--> statement-breakpoint
CREATE INDEX "idx_platforms_status" ON "platforms" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_playback_sessions_user" ON "playback_sessions" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "idx_playback_sessions_platform" ON "playback_sessions" USING btree ("platform_id","id");--> statement-breakpoint
CREATE INDEX "idx_playback_sessions_grant" ON "playback_sessions" USING btree ("grant_id") WHERE "playback_sessions"."status" = 'active';--> statement-breakpoint
CREATE INDEX "idx_playback_sessions_due" ON "playback_sessions" USING btree ("due_at") WHERE "playback_sessions"."status" = 'active';--> statement-breakpoint
CREATE INDEX "idx_playback_sessions_unfinalized" ON "playback_sessions" USING btree ("id") WHERE "playback_sessions"."status" <> 'active' and "playback_sessions"."finalized_at" is null;