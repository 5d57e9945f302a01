-- The ledger's rules, enforced by the database whoever writes:
--  * transfers and entries are append-only (UPDATE, DELETE and TRUNCATE refused);
--  * the entries of each transfer written by one statement sum to zero, in the transfer's currency;
--  * account balances (and the wallet columns that mirror them) are updated by the same statement,
--    so a balance never differs from the sum of its entries, and the accounts' CHECK refuses an
--    overdraft of an account that may not go negative.
SELECT fanfare_attach_updated_at_triggers();
--> statement-breakpoint
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION fanfare_forbid_change();
--> statement-breakpoint
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION fanfare_forbid_change();
--> statement-breakpoint
CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
  FOR EACH ROW EXECUTE FUNCTION fanfare_forbid_change();
--> statement-breakpoint
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
  FOR EACH STATEMENT EXECUTE FUNCTION fanfare_forbid_change();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_apply_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad uuid;
BEGIN
  SELECT transfer_id INTO bad FROM new_entries GROUP BY transfer_id HAVING sum(amount) <> 0 LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transfer % does not balance', bad
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transfer_balanced';
  END IF;
  SELECT e.transfer_id INTO bad FROM new_entries e
    JOIN ledger_accounts a ON a.id = e.account_id
    JOIN ledger_transfers t ON t.id = e.transfer_id
   WHERE a.currency <> t.currency LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transfer % mixes currencies', bad
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transfer_one_currency';
  END IF;
  -- Lock the accounts in id order, so two transfers over the same accounts never deadlock. NO KEY
  -- UPDATE, because the entries' foreign keys already hold KEY SHARE locks on these rows, which FOR
  -- UPDATE would wait on (two transfers would then wait on each other).
  PERFORM 1 FROM ledger_accounts WHERE id IN (SELECT account_id FROM new_entries) ORDER BY id FOR NO KEY UPDATE;
  UPDATE ledger_accounts a
     SET balance = a.balance + d.delta, updated_at = now()
    FROM (SELECT account_id, sum(amount) AS delta FROM new_entries GROUP BY account_id) d
   WHERE a.id = d.account_id;
  UPDATE wallets w
     SET balance_available = coalesce((SELECT balance FROM ledger_accounts WHERE wallet_id = w.id AND kind = 'wallet_available'), 0),
         balance = coalesce((SELECT balance FROM ledger_accounts WHERE wallet_id = w.id AND kind = 'wallet_available'), 0),
         balance_pending = coalesce((SELECT balance FROM ledger_accounts WHERE wallet_id = w.id AND kind = 'wallet_pending'), 0),
         last_updated = now()
   WHERE w.id IN (SELECT a.wallet_id FROM ledger_accounts a WHERE a.id IN (SELECT account_id FROM new_entries) AND a.wallet_id IS NOT NULL);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_entries();
--> statement-breakpoint
-- Account balances and wallet mirrors are written only by ledger_apply_entries (which runs as the
-- trigger of an entry insert, so pg_trigger_depth() > 0 there).
CREATE OR REPLACE FUNCTION ledger_guard_account_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_trigger_depth() < 2 AND NEW.balance IS DISTINCT FROM OLD.balance THEN
    RAISE EXCEPTION 'ledger_accounts.balance is a projection of ledger entries and cannot be written directly'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_guard_wallet_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF pg_trigger_depth() < 2 AND (NEW.balance IS DISTINCT FROM OLD.balance
      OR NEW.balance_available IS DISTINCT FROM OLD.balance_available
      OR NEW.balance_pending IS DISTINCT FROM OLD.balance_pending) THEN
    RAISE EXCEPTION 'wallets balances are a projection of ledger entries and cannot be written directly'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER ledger_accounts_guard_balance BEFORE UPDATE ON ledger_accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_guard_account_balance();
--> statement-breakpoint
CREATE TRIGGER wallets_guard_balance BEFORE UPDATE ON wallets
  FOR EACH ROW EXECUTE FUNCTION ledger_guard_wallet_balance();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_guard_insert_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.balance <> 0 THEN
    RAISE EXCEPTION 'a new ledger account starts at zero' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER ledger_accounts_start_at_zero BEFORE INSERT ON ledger_accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_guard_insert_balance();
