-- ledger_post_transfer's statements take the legs as arrays. Postgres's plan cache compared the
-- generic plan (unnest of a parameter, estimated at 10 rows) with custom plans (unnest of the
-- actual 2-4 elements: cheaper on paper), so it kept choosing custom plans and planned the lock
-- statement and the five-part CTE afresh on every call: about a third of the function's time
-- (pgbench, one client: 0.94 ms a call with custom plans, 0.65 ms with the generic plan).
--
-- The generic plan is forced, and planned as what it is: a handful of primary-key lookups. Without
-- the planner settings, a small table (a new installation, the tests) gets a generic plan that
-- seq-scans ledger_accounts and wallets and hash-joins them with the legs, on every call (perf:
-- 8% of the function's CPU in seq scans and hash-join set-up). The accounts are locked in id order
-- by the lock statement whatever plan reads them. These settings apply only to the statements
-- planned inside this function (and are restored when it returns).
ALTER FUNCTION ledger_post_transfer(uuid, varchar, varchar, varchar, varchar, uuid, uuid, text, jsonb, uuid[], uuid[], bigint[])
  SET plan_cache_mode = force_generic_plan;
--> statement-breakpoint
ALTER FUNCTION ledger_post_transfer(uuid, varchar, varchar, varchar, varchar, uuid, uuid, text, jsonb, uuid[], uuid[], bigint[])
  SET enable_seqscan = off;
--> statement-breakpoint
ALTER FUNCTION ledger_post_transfer(uuid, varchar, varchar, varchar, varchar, uuid, uuid, text, jsonb, uuid[], uuid[], bigint[])
  SET enable_hashjoin = off;
--> statement-breakpoint
ALTER FUNCTION ledger_post_transfer(uuid, varchar, varchar, varchar, varchar, uuid, uuid, text, jsonb, uuid[], uuid[], bigint[])
  SET enable_mergejoin = off;
