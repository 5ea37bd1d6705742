-- The commit-time numbering lock of the change feed is taken per `event_changes` table (its oid
-- as the second key) instead of once per database: two Datapump schemas in one database (a
-- test and a production installation, or the test suite's schemas) no longer queue their commits
-- behind each other. Within one schema nothing changes: every writer takes the same lock.

CREATE OR REPLACE FUNCTION event_changes_number() RETURNS trigger AS $$
DECLARE
    pending BIGINT;
    first BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(7305101, 'event_changes'::regclass::oid::int);
    SELECT count(*) INTO pending FROM pg_temp.event_changes_staged;
    IF pending > 0 THEN
        first := nextval('event_changes_seq');
        IF pending > 1 THEN
            PERFORM setval('event_changes_seq', first + pending - 1);
        END IF;
        -- Moved, not copied: should the trigger fire before the commit (SET CONSTRAINTS ...
        -- IMMEDIATE), later writes of the transaction are numbered by their own call.
        WITH moved AS (DELETE FROM pg_temp.event_changes_staged RETURNING *)
        INSERT INTO event_changes (seq, subscription_id, event_id, graph_id, ical_uid, operation, changed_at, start_utc, end_utc, subject)
        SELECT first + row_number() OVER (ORDER BY n) - 1, subscription_id, event_id, graph_id, ical_uid,
               operation, changed_at, start_utc, end_utc, subject
        FROM moved;
    END IF;
    DELETE FROM event_changes_pending WHERE tx = NEW.tx;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
