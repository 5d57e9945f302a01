-- An operator's block on a wallet's payouts, with its reason: payouts_enabled alone cannot tell
-- "no verified destination yet" from "disabled by an operator", and a block must outlive a newly
-- verified destination. The CHECK keeps payouts_enabled honest whatever code writes it.
ALTER TABLE "wallets" ADD COLUMN "payouts_disabled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "payouts_disabled_reason" text;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "payouts_disabled_by" uuid;--> statement-breakpoint
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_payouts_disabled_by_users_id_fk" FOREIGN KEY ("payouts_disabled_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_payouts_disabled_reason" CHECK (("wallets"."payouts_disabled_at" is null) = ("wallets"."payouts_disabled_reason" is null));--> statement-breakpoint
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_payouts_enabled_check" CHECK (not "wallets"."payouts_enabled" or ("wallets"."payouts_disabled_at" is null and ("wallets"."paypal_verified" or "wallets"."stripe_account_status" is not distinct from 'enabled')));