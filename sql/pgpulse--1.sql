-- pgpulse schema, version 1.
--
-- Applied by `pgpulse install` inside one transaction, after `CREATE SCHEMA pgpulse`.
-- Later versions ship as pgpulse--1--2.sql and so on and upgrade in place.
--
-- Design (see docs/design.md):
-- * Capture triggers write every change into pgpulse.changes in the writer's own
--   transaction; NOTIFY only wakes readers. Payload size, identical payloads and
--   disconnected readers therefore cannot lose or fold changes.
-- * INSERT, DELETE and TRUNCATE are captured by statement-level triggers with transition
--   tables (one trigger call per statement, however many rows). UPDATE is captured per row
--   because transition tables do not pair each old row with its new row.
-- * Readers page through the log by snapshot (pg_current_snapshot), not by "id greater
--   than", so transactions that commit out of id order are never skipped.

CREATE TABLE pgpulse.settings (
  key text PRIMARY KEY,
  value text NOT NULL
);

INSERT INTO pgpulse.settings (key, value) VALUES
  ('schema_version', '1'),
  ('retention', '24 hours'),  -- keep changes at least this long (an interval)
  ('wakeup', 'notify'),        -- 'notify' or 'poll': see pgpulse.set_wakeup
  ('pruned_below', '0'),       -- every change with a lower xid is pruned, none above
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
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'I', row_to_json(n) FROM pgpulse_new n;
      IF FOUND THEN %1$s END IF;
      RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION pgpulse.capture_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
      INSERT INTO pgpulse.changes (schema_name, table_name, op, old_row)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'D', row_to_json(o) FROM pgpulse_old o;
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

-- Deletes one batch of changes older than the retention, oldest first, and returns how many
-- (0: nothing to prune now, or another reader is pruning). Readers call it repeatedly, each
-- call its own short transaction; deleting old rows takes no lock a writer waits for.
--
-- Whole transactions go, in xid order, so `pruned_below` holds: every change with a lower
-- xid is gone and none above it is. read_changes compares a reader's cursor with it and
-- reports the cursor expired instead of silently skipping what was pruned.
CREATE FUNCTION pgpulse.prune(batch_size int DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cutoff timestamptz;
  first_xid xid8;
  last_xid xid8;
  first_young xid8;
  horizon xid8;
  deleted bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(7283915503) THEN
    RETURN 0;
  END IF;
  cutoff := now() - (SELECT value::interval FROM pgpulse.settings WHERE key = 'retention');
  SELECT min(h.xid), max(h.xid), min(h.xid) FILTER (WHERE h.written_at >= cutoff)
    INTO first_xid, last_xid, first_young
  FROM (SELECT c.xid, c.written_at FROM pgpulse.changes c ORDER BY c.xid, c.seq
        LIMIT batch_size) h;
  UPDATE pgpulse.settings SET value = now()::text WHERE key = 'last_prune';
  IF first_xid IS NULL OR first_young = first_xid THEN
    RETURN 0;                        -- empty log, or the oldest change is still young
  ELSIF first_young IS NOT NULL THEN
    horizon := first_young;          -- everything before the first young change
  ELSIF last_xid > first_xid THEN
    horizon := last_xid;             -- the whole transactions of the batch
  ELSE
    horizon := (last_xid::text::numeric + 1)::text::xid8;  -- one old transaction, all of it
  END IF;
  DELETE FROM pgpulse.changes WHERE xid < horizon;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  UPDATE pgpulse.settings SET value = horizon::text
  WHERE key = 'pruned_below' AND value::xid8 < horizon;
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

-- One page of the log for a reader: every change of the transactions visible in `upto`
-- but not in `after` (two snapshots), ordered so that per-row order and per-transaction
-- grouping hold; when resuming inside such a batch, only those past (after_xid, after_seq);
-- only of the tables (only_schemas[i], only_tables[i]) when those are given.
-- `upto` NULL means "now": the statement's own snapshot, returned in the first row (whose
-- xid is NULL) so the reader knows which batch it read.
--
-- Order: transactions by their last change's seq. If two transactions touch one row, the
-- second waits for the first to commit before writing it, so its last seq is higher.
-- STABLE: every query inside sees the calling statement's snapshot.
CREATE FUNCTION pgpulse.read_changes(after pg_snapshot, upto pg_snapshot,
                                     after_xid xid8, after_seq bigint,
                                     only_schemas text[] DEFAULT NULL,
                                     only_tables text[] DEFAULT NULL)
RETURNS TABLE (snapshot text, xid xid8, seq bigint, schema_name text, table_name text,
               op "char", new_row json, old_row json, commit_time text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cur pg_snapshot := coalesce(upto, pg_current_snapshot());
  -- In progress at `after` and finished by `cur`: looked up by xid, so a long-running
  -- transaction does not make every page rescan what was written since it began.
  finished xid8[] := ARRAY(SELECT pg_snapshot_xip(after) EXCEPT SELECT pg_snapshot_xip(cur));
  with_commit_ts boolean := current_setting('track_commit_timestamp')::boolean;
  after_last bigint;
  pruned xid8 := (SELECT value::xid8 FROM pgpulse.settings WHERE key = 'pruned_below');
BEGIN
  -- A snapshot's xmin is never visible in it, so a horizon above xmin may have removed
  -- changes this reader has not seen. (Conservative when xmin belongs to some unrelated
  -- transaction that was open longer than the retention.)
  IF pruned > pg_snapshot_xmin(after) THEN
    RAISE EXCEPTION 'cursor expired: changes after it were pruned (retention is %)',
      (SELECT value FROM pgpulse.settings WHERE key = 'retention')
      USING ERRCODE = 'PX001';
  END IF;
  snapshot := cur::text;
  RETURN NEXT;
  snapshot := NULL;
  IF after_xid IS NOT NULL THEN
    SELECT max(c.seq) INTO after_last FROM pgpulse.changes c WHERE c.xid = after_xid;
  END IF;
  RETURN QUERY
  SELECT NULL::text, b.xid, b.seq, b.schema_name, b.table_name, b.op, b.new_row, b.old_row,
         to_char(CASE WHEN with_commit_ts THEN pg_xact_commit_timestamp(xid(b.xid))
                      ELSE b.written_at END AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  FROM (
    SELECT c.*, max(c.seq) OVER (PARTITION BY c.xid) AS last_seq
    FROM pgpulse.changes c
    WHERE (c.xid = ANY (finished)
           OR (c.xid >= pg_snapshot_xmax(after) AND c.xid < pg_snapshot_xmax(cur)))
      AND pg_visible_in_snapshot(c.xid, cur)
  ) b
  WHERE (after_xid IS NULL OR (b.last_seq, b.xid, b.seq) > (after_last, after_xid, after_seq))
    AND (only_tables IS NULL OR (b.schema_name, b.table_name) IN
         (SELECT * FROM unnest(only_schemas, only_tables)))
  ORDER BY b.last_seq, b.xid, b.seq;
END $$;
