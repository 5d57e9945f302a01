DROP INDEX "idx_payouts_user";--> statement-breakpoint
DROP INDEX "idx_payouts_status";--> statement-breakpoint
ALTER TABLE "payouts" ADD COLUMN "provider" varchar(30);--> statement-breakpoint
ALTER TABLE "payouts" ADD COLUMN "return_transfer_id" uuid;--> statement-breakpoint
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_return_transfer_id_ledger_transfers_id_fk" FOREIGN KEY ("return_transfer_id") REFERENCES "public"."ledger_transfers"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_payouts_organization" ON "payouts" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "idx_payouts_user" ON "payouts" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "idx_payouts_status" ON "payouts" USING btree ("status","id");--> statement-breakpoint
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_currency_format" CHECK ("payouts"."currency" ~ '^[A-Z]{3}$');--> statement-breakpoint
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_destination_check" CHECK (("payouts"."method" <> 'bank' or "payouts"."bank_details" is not null) and ("payouts"."method" <> 'paypal' or "payouts"."paypal_email" is not null) and ("payouts"."method" <> 'crypto' or ("payouts"."crypto_address" is not null and "payouts"."crypto_network" is not null)));--> statement-breakpoint
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_transfers_check" CHECK ("payouts"."hold_transfer_id" is not null and ("payouts"."status" <> 'completed' or "payouts"."settle_transfer_id" is not null) and ("payouts"."status" not in ('failed', 'cancelled') or "payouts"."return_transfer_id" is not null));