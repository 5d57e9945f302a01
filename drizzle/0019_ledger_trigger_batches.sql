-- The ledger entry trigger, rewritten for statements that post many transfers at once (Pay as Play's
-- metering engine writes a thousand or more per statement). Same rules, same lock order; what changes
-- is how it reaches the rows: the trigger's queries on the transition table were planned as hash
-- joins over whole tables (ledger_accounts, ledger_transfers), so their cost grew with the ledger,
-- not with the statement. Here every lookup goes through a primary key or the (wallet, kind,
-- currency) unique index, driven by arrays of the statement's accounts, wallets and transfers.
-- (It sets wallets.updated_at itself: since 0010 the updated_at trigger skips the ledger's own writes.)
CREATE OR REPLACE FUNCTION ledger_apply_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad uuid;
  acc uuid[];
  deltas bigint[];
  wallet_ids uuid[];
BEGIN
  SELECT transfer_id INTO bad FROM new_entries GROUP BY transfer_id HAVING sum(amount) <> 0 LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transfer % does not balance', bad
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transfer_balanced';
  END IF;
  SELECT array_agg(account_id ORDER BY account_id), array_agg(delta ORDER BY account_id) INTO acc, deltas
    FROM (SELECT account_id, sum(amount) AS delta FROM new_entries GROUP BY account_id) d;
  IF acc IS NULL THEN
    RETURN NULL;
  END IF;
  -- One currency per transfer: each transfer's entries' accounts against the transfer's currency.
  SELECT x.transfer_id INTO bad
    FROM (SELECT DISTINCT transfer_id, account_id FROM new_entries) x
   WHERE (SELECT a.currency FROM ledger_accounts a WHERE a.id = x.account_id)
         IS DISTINCT FROM (SELECT t.currency FROM ledger_transfers t WHERE t.id = x.transfer_id)
   LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transfer % mixes currencies', bad
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transfer_one_currency';
  END IF;
  -- Lock the accounts in id order, so two transfers over the same accounts never deadlock. NO KEY
  -- UPDATE, because the entries' foreign keys already hold KEY SHARE locks on these rows, which FOR
  -- UPDATE would wait on (two transfers would then wait on each other).
  PERFORM 1 FROM ledger_accounts WHERE id = ANY (acc) ORDER BY id FOR NO KEY UPDATE;
  UPDATE ledger_accounts a
     SET balance = a.balance + d.delta, updated_at = now()
    FROM unnest(acc, deltas) AS d(account_id, delta)
   WHERE a.id = d.account_id AND a.id = ANY (acc);
  SELECT array_agg(DISTINCT a.wallet_id) INTO wallet_ids FROM ledger_accounts a WHERE a.id = ANY (acc) AND a.wallet_id IS NOT NULL;
  IF wallet_ids IS NOT NULL THEN
    UPDATE wallets w
       SET balance_available = coalesce((SELECT balance FROM ledger_accounts WHERE wallet_id = w.id AND kind = 'wallet_available'), 0),
           balance = coalesce((SELECT balance FROM ledger_accounts WHERE wallet_id = w.id AND kind = 'wallet_available'), 0),
           balance_pending = coalesce((SELECT balance FROM ledger_accounts WHERE wallet_id = w.id AND kind = 'wallet_pending'), 0),
           last_updated = now(), updated_at = now()
     WHERE w.id = ANY (wallet_ids);
  END IF;
  RETURN NULL;
END $$;
