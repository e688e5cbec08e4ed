-- pgpulse schema, version 1.
--
-- Applied by `pgpulse install` inside one transaction, after `CREATE SCHEMA pgpulse`.
-- Later versions ship as pgpulse--1--2.sql and so on and upgrade in place.
--
-- Design (docs/design.md has the long form):
-- * Capture triggers write every change into pgpulse.changes in the writer's own
--   transaction; NOTIFY only wakes readers. Payload size, identical payloads and
--   disconnected readers therefore cannot lose or fold changes.
-- * INSERT, DELETE and TRUNCATE are captured by statement-level triggers with transition
--   tables (one trigger call per statement, however many rows). UPDATE is captured per row
--   because transition tables do not pair each old row with its new row.
-- * Transaction ids are not commit order, so "id greater than the last one seen" would skip
--   transactions that commit late. Readers first call pgpulse.sequence(), which gives every
--   newly committed transaction the next position, once and durably (pgpulse.commit_order),
--   by comparing snapshots. A change's id is then (position, seq): the same for every reader
--   and every replay, and "everything after (position, seq)" is exact.

CREATE TABLE pgpulse.settings (
  key text PRIMARY KEY,
  value text NOT NULL
);

INSERT INTO pgpulse.settings (key, value) VALUES
  ('schema_version', '1'),
  ('retention', '24 hours'),   -- keep changes at least this long (an interval)
  ('wakeup', 'notify'),        -- 'notify' or 'poll': see pgpulse.set_wakeup
  ('sequenced', pg_current_snapshot()::text),  -- commit_order holds what this snapshot shows
  ('last_position', '0'),      -- the highest position given so far
  ('pruned_below', '1'),       -- positions below this are pruned, none above
  ('last_prune', '');          -- when a reader last pruned

CREATE TABLE pgpulse.changes (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  op "char" NOT NULL CHECK (op IN ('I', 'U', 'D', 'T')),
  new_row json,
  old_row json,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (xid, seq)
);

-- Commit order: one row per captured, committed transaction.
CREATE TABLE pgpulse.commit_order (
  position bigint PRIMARY KEY,
  xid xid8 NOT NULL UNIQUE,
  sequenced_at timestamptz NOT NULL DEFAULT now()
);

-- Trigger functions run as the installer (SECURITY DEFINER), so application roles can
-- write captured tables without any grant on the pgpulse schema; the fixed search_path
-- keeps a caller's search_path from redirecting the functions they call.
--
-- set_wakeup() (re)creates them: with 'notify' each captured transaction sends one NOTIFY
-- (identical empty payloads fold into one) to wake readers at once; with 'poll' they send
-- none, so writers never take the cluster-wide lock NOTIFY takes at commit, and readers
-- poll the log instead.
CREATE FUNCTION pgpulse.set_wakeup(mode text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  wake text;
BEGIN
  IF mode IS NULL OR mode NOT IN ('notify', 'poll') THEN
    RAISE EXCEPTION 'wake-up mode must be notify or poll, not %', mode
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  wake := CASE mode WHEN 'notify' THEN $w$PERFORM pg_notify('pgpulse', '');$w$ ELSE '' END;
  EXECUTE format($f$
    CREATE OR REPLACE FUNCTION pgpulse.capture_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
      INSERT INTO pgpulse.changes (schema_name, table_name, op, new_row)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'I', row_to_json(n.*) FROM pgpulse_new n;  -- n.*: a column may be named n
      IF FOUND THEN %1$s END IF;
      RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION pgpulse.capture_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
      INSERT INTO pgpulse.changes (schema_name, table_name, op, old_row)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'D', row_to_json(o.*) FROM pgpulse_old o;
      IF FOUND THEN %1$s END IF;
      RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION pgpulse.capture_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
      INSERT INTO pgpulse.changes (schema_name, table_name, op, new_row, old_row)
      VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'U', row_to_json(NEW), row_to_json(OLD));
      %1$s
      RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION pgpulse.capture_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
      INSERT INTO pgpulse.changes (schema_name, table_name, op)
      VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'T');
      %1$s
      RETURN NULL;
    END $$;
  $f$, wake);
  UPDATE pgpulse.settings SET value = mode WHERE key = 'wakeup';
END $fn$;

SELECT pgpulse.set_wakeup('notify');

-- Gives the next positions to the transactions that committed since the last call, in an
-- order that keeps per-row order: by each transaction's last change. (If two transactions
-- change one row, the second waits for the first to commit before writing it, so its last
-- change comes later.) Serialized by an advisory lock; returns how many it sequenced.
-- Every reader calls it before reading, so positions exist as soon as anyone looks.
CREATE FUNCTION pgpulse.sequence() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  prev pg_snapshot;
  cur pg_snapshot;
  finished xid8[];
  last bigint;
  n bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(7283915504);
  -- Statements after the lock see what the previous sequencer committed.
  SELECT value::pg_snapshot INTO prev FROM pgpulse.settings WHERE key = 'sequenced';
  SELECT value::bigint INTO last FROM pgpulse.settings WHERE key = 'last_position';
  cur := pg_current_snapshot();
  -- In progress at `prev`, finished by `cur`: looked up by xid, so a transaction that stays
  -- open for hours costs nothing here.
  finished := ARRAY(SELECT pg_snapshot_xip(prev) EXCEPT SELECT pg_snapshot_xip(cur));
  INSERT INTO pgpulse.commit_order (position, xid)
  SELECT last + row_number() OVER (ORDER BY t.last_seq), t.xid
  FROM (
    SELECT c.xid, max(c.seq) AS last_seq
    FROM pgpulse.changes c
    WHERE (c.xid = ANY (finished)
           OR (c.xid >= pg_snapshot_xmax(prev) AND c.xid < pg_snapshot_xmax(cur)))
      AND pg_visible_in_snapshot(c.xid, cur)
    GROUP BY c.xid
  ) t;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF cur::text <> prev::text THEN  -- an idle poll writes nothing
    UPDATE pgpulse.settings SET value = cur::text WHERE key = 'sequenced';
  END IF;
  IF n > 0 THEN
    UPDATE pgpulse.settings SET value = (last + n)::text WHERE key = 'last_position';
  END IF;
  RETURN n;
END $$;

-- Deletes the oldest sequenced transactions that are older than the retention, at most
-- batch_size of them, and returns how many (0: nothing to prune now, or another reader is
-- pruning). Readers call it repeatedly, each call its own short transaction; deleting old
-- rows takes no lock a writer waits for. Whole transactions go in position order, so
-- `pruned_below` holds: every position below it is gone, none above it. A reader whose
-- cursor is below it is told its cursor expired, never silently given a partial stream.
CREATE FUNCTION pgpulse.prune(batch_size int DEFAULT 1000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cutoff timestamptz;
  horizon bigint;
  deleted bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(7283915503) THEN
    RETURN 0;
  END IF;
  UPDATE pgpulse.settings SET value = now()::text WHERE key = 'last_prune';
  cutoff := now() - (SELECT value::interval FROM pgpulse.settings WHERE key = 'retention');
  SELECT max(o.position) + 1 INTO horizon
  FROM (SELECT position FROM pgpulse.commit_order
        WHERE sequenced_at < cutoff ORDER BY position LIMIT batch_size) o;
  IF horizon IS NULL THEN
    RETURN 0;
  END IF;
  -- Stop at the first young transaction: positions stay a prefix.
  horizon := least(horizon, coalesce((SELECT min(position) FROM pgpulse.commit_order
                                      WHERE sequenced_at >= cutoff), horizon));
  WITH gone AS (
    DELETE FROM pgpulse.commit_order WHERE position < horizon RETURNING xid
  )
  DELETE FROM pgpulse.changes c USING gone WHERE c.xid = gone.xid;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  UPDATE pgpulse.settings SET value = horizon::text
  WHERE key = 'pruned_below' AND value::bigint < horizon;
  RETURN deleted;
END $$;

-- The tables that have capture triggers, derived from the catalog so it can never drift.
CREATE VIEW pgpulse.captured_tables AS
SELECT DISTINCT t.tgrelid::regclass AS table_name, n.nspname AS schema_name, c.relname
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname IN ('pgpulse_capture_insert', 'pgpulse_capture_update',
                   'pgpulse_capture_delete', 'pgpulse_capture_truncate');

-- Puts capture triggers on one table; does nothing for a trigger that is already there.
CREATE FUNCTION pgpulse.capture(target regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kind "char";
  spec record;
BEGIN
  SELECT relkind INTO kind FROM pg_class WHERE oid = target;
  IF kind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table', target USING ERRCODE = 'wrong_object_type';
  END IF;
  FOR spec IN
    SELECT * FROM (VALUES
      ('pgpulse_capture_insert', 'AFTER INSERT ON %s REFERENCING NEW TABLE AS pgpulse_new '
                                 'FOR EACH STATEMENT EXECUTE FUNCTION pgpulse.capture_insert()'),
      ('pgpulse_capture_update', 'AFTER UPDATE ON %s '
                                 'FOR EACH ROW EXECUTE FUNCTION pgpulse.capture_update()'),
      ('pgpulse_capture_delete', 'AFTER DELETE ON %s REFERENCING OLD TABLE AS pgpulse_old '
                                 'FOR EACH STATEMENT EXECUTE FUNCTION pgpulse.capture_delete()'),
      ('pgpulse_capture_truncate', 'AFTER TRUNCATE ON %s '
                                   'FOR EACH STATEMENT EXECUTE FUNCTION pgpulse.capture_truncate()')
    ) AS s(name, body)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = target AND tgname = spec.name) THEN
      -- regclass::text is already quoted and schema-qualified where needed.
      EXECUTE format('CREATE TRIGGER %I ', spec.name) || format(spec.body, target);
    END IF;
  END LOOP;
END $$;

-- Removes capture triggers from one table; the table and its data are untouched.
CREATE FUNCTION pgpulse.release(target regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['pgpulse_capture_insert', 'pgpulse_capture_update',
                              'pgpulse_capture_delete', 'pgpulse_capture_truncate']
  LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', name, target);
  END LOOP;
END $$;
