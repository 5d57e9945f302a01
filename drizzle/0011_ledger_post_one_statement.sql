-- ledger_post_transfer in two statements instead of six: the accounts are locked in id order and
-- their currency checked in one, then the transfer, its entries, the account balances and the
-- wallet mirrors are written by ONE statement of data-modifying CTEs, with every plan cached per
-- connection. The statement-level entry trigger is then skipped (its WHEN clause reads the
-- transaction-local flag fanfare.ledger_applying, set only around that statement), because its
-- checks and updates were just done without the transition-table queries, which Postgres plans
-- afresh on every call. Any other writer of ledger_entries (a batch posting many transfers in one
-- statement) still goes through the trigger exactly as before, and the balance guards still refuse
-- every write that comes from neither.
CREATE OR REPLACE FUNCTION ledger_post_transfer(
  p_id uuid, p_key varchar, p_kind varchar, p_currency varchar, p_reference_type varchar, p_reference_id uuid,
  p_reverses uuid, p_description text, p_metadata jsonb, p_entry_ids uuid[], p_accounts uuid[], p_amounts bigint[]
) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  posted uuid;
  total bigint := 0;
  amount bigint;
  found_accounts int;
  in_currency int;
BEGIN
  FOREACH amount IN ARRAY p_amounts LOOP
    total := total + amount;
  END LOOP;
  IF total <> 0 OR coalesce(array_length(p_amounts, 1), 0) < 2 OR array_length(p_accounts, 1) IS DISTINCT FROM array_length(p_amounts, 1) THEN
    RAISE EXCEPTION 'ledger transfer % does not balance', p_key
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transfer_balanced';
  END IF;
  SELECT count(*), count(*) FILTER (WHERE l.currency = p_currency) INTO found_accounts, in_currency
    FROM (SELECT currency FROM ledger_accounts WHERE id = ANY (p_accounts) ORDER BY id FOR NO KEY UPDATE) l;
  IF in_currency <> found_accounts THEN
    RAISE EXCEPTION 'ledger transfer % mixes currencies', p_key
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transfer_one_currency';
  END IF;
  PERFORM set_config('fanfare.ledger_applying', 'on', true);
  WITH t AS (
    INSERT INTO ledger_transfers (id, idempotency_key, kind, currency, reference_type, reference_id, reverses_transfer_id, description, metadata)
    VALUES (p_id, p_key, p_kind, p_currency, p_reference_type, p_reference_id, p_reverses, p_description, coalesce(p_metadata, '{}'::jsonb))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id),
  e AS (
    INSERT INTO ledger_entries (id, transfer_id, account_id, amount)
    SELECT x.id, t.id, x.account_id, x.amount FROM t, unnest(p_entry_ids, p_accounts, p_amounts) AS x(id, account_id, amount)),
  moved AS (
    UPDATE ledger_accounts a
       SET balance = a.balance + d.delta, updated_at = now()
      FROM (SELECT u.account_id, sum(u.amount) AS delta FROM unnest(p_accounts, p_amounts) AS u(account_id, amount) GROUP BY u.account_id) d, t
     WHERE a.id = d.account_id
    RETURNING a.wallet_id, a.kind, a.balance),
  mirrored AS (
    UPDATE wallets w
       SET balance_available = coalesce(m.available, w.balance_available),
           balance = coalesce(m.available, w.balance),
           balance_pending = coalesce(m.pending, w.balance_pending),
           last_updated = now(), updated_at = now()
      FROM (SELECT wallet_id,
                   max(balance) FILTER (WHERE kind = 'wallet_available') AS available,
                   max(balance) FILTER (WHERE kind = 'wallet_pending') AS pending
              FROM moved WHERE wallet_id IS NOT NULL GROUP BY wallet_id) m
     WHERE w.id = m.wallet_id)
  SELECT id INTO posted FROM t;
  PERFORM set_config('fanfare.ledger_applying', '', true);
  RETURN posted;
END $$;
--> statement-breakpoint
DROP TRIGGER ledger_entries_apply ON ledger_entries;
--> statement-breakpoint
CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT WHEN (current_setting('fanfare.ledger_applying', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION ledger_apply_entries();
--> statement-breakpoint
DROP TRIGGER ledger_accounts_guard_balance ON ledger_accounts;
--> statement-breakpoint
CREATE TRIGGER ledger_accounts_guard_balance BEFORE UPDATE ON ledger_accounts FOR EACH ROW
  WHEN (pg_trigger_depth() < 1 AND current_setting('fanfare.ledger_applying', true) IS DISTINCT FROM 'on' AND NEW.balance IS DISTINCT FROM OLD.balance)
  EXECUTE FUNCTION ledger_guard_account_balance();
--> statement-breakpoint
DROP TRIGGER wallets_guard_balance ON wallets;
--> statement-breakpoint
CREATE TRIGGER wallets_guard_balance BEFORE UPDATE ON wallets FOR EACH ROW
  WHEN (pg_trigger_depth() < 1 AND current_setting('fanfare.ledger_applying', true) IS DISTINCT FROM 'on' AND (NEW.balance IS DISTINCT FROM OLD.balance
        OR NEW.balance_available IS DISTINCT FROM OLD.balance_available OR NEW.balance_pending IS DISTINCT FROM OLD.balance_pending))
  EXECUTE FUNCTION ledger_guard_wallet_balance();
--> statement-breakpoint
DROP TRIGGER ledger_accounts_set_updated_at ON ledger_accounts;
--> statement-breakpoint
CREATE TRIGGER ledger_accounts_set_updated_at BEFORE UPDATE ON ledger_accounts FOR EACH ROW
  WHEN (pg_trigger_depth() < 1 AND current_setting('fanfare.ledger_applying', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION fanfare_set_updated_at();
--> statement-breakpoint
DROP TRIGGER wallets_set_updated_at ON wallets;
--> statement-breakpoint
CREATE TRIGGER wallets_set_updated_at BEFORE UPDATE ON wallets FOR EACH ROW
  WHEN (pg_trigger_depth() < 1 AND current_setting('fanfare.ledger_applying', true) IS DISTINCT FROM 'on') EXECUTE FUNCTION fanfare_set_updated_at();
