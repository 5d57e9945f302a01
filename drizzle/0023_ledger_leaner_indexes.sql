-- Fewer index writes per posting: the entries are keyed by (transfer_id, id), which serves every
-- lookup by transfer (so its own index goes), and the reference and reversal indexes of transfers
-- only hold transfers that have one.
DROP INDEX "idx_ledger_entries_transfer";--> statement-breakpoint
DROP INDEX "idx_ledger_transfers_reference";--> statement-breakpoint
DROP INDEX "idx_ledger_transfers_reverses";--> statement-breakpoint
ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_entries_pkey";--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_pkey" PRIMARY KEY("transfer_id","id");--> statement-breakpoint
CREATE INDEX "idx_ledger_transfers_reference" ON "ledger_transfers" USING btree ("reference_type","reference_id") WHERE "ledger_transfers"."reference_id" is not null;--> statement-breakpoint
CREATE INDEX "idx_ledger_transfers_reverses" ON "ledger_transfers" USING btree ("reverses_transfer_id") WHERE "ledger_transfers"."reverses_transfer_id" is not null;