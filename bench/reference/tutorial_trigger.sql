-- The common blog recipe pgpulse replaces, verbatim: a row trigger that sends the new row with
-- pg_notify. The benchmarks install it on the table named by the psql variable `table`
-- (psql -v table=orders); bench/reference/*_listener.* and `watch --channel` listen to
-- record_changes.
CREATE FUNCTION notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('record_changes', json_build_object('table', TG_TABLE_NAME, 'op', TG_OP,
    'record', row_to_json(NEW))::text);
  RETURN NEW;
END $$;
CREATE TRIGGER record_changes AFTER INSERT OR UPDATE OR DELETE ON :"table"
  FOR EACH ROW EXECUTE FUNCTION notify_changes();
