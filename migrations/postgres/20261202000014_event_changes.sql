-- The change feed: every insert, content update and deletion of an event, appended in the same
-- transaction by triggers, so that no path that writes `events` can forget it and nothing the
-- reader sees can be rolled back. No foreign keys: the record of a deletion outlives the event
-- and its subscription.
--
-- Commit order: a sequence value taken mid-transaction can commit after a higher one, and a
-- reader that went past the higher one would skip it. So rows are numbered at COMMIT, by a
-- deferred trigger, under a transaction-level advisory lock held until the commit is done:
-- numbers become visible in increasing order, and "all changes with seq > my last" is complete.
-- Uncommitted rows (seq still NULL) are invisible to readers. Each transaction finds its own
-- rows by its id (`tx`), so numbering never walks other transactions' (or dead) index entries,
-- and does so once: the other deferred calls of the same transaction return at once.
CREATE SEQUENCE event_changes_seq;
CREATE TABLE event_changes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq              BIGINT UNIQUE,
    subscription_id  BIGINT NOT NULL,
    event_id         BIGINT NOT NULL,
    graph_id         TEXT NOT NULL,
    ical_uid         TEXT,
    operation        TEXT NOT NULL CHECK (operation IN ('upsert', 'delete')),
    changed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    start_utc        TIMESTAMPTZ,
    end_utc          TIMESTAMPTZ,
    subject          TEXT,
    tx               xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX event_changes_unnumbered ON event_changes (tx, id) WHERE seq IS NULL;
CREATE INDEX event_changes_subscription ON event_changes (subscription_id, seq);
CREATE INDEX event_changes_changed_at ON event_changes (changed_at);

CREATE FUNCTION events_feed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO event_changes (subscription_id, event_id, graph_id, ical_uid, operation, start_utc, end_utc, subject)
        VALUES (OLD.subscription_id, OLD.id, OLD.graph_id, OLD.ical_uid, 'delete', OLD.start_utc, OLD.end_utc, OLD.subject);
        RETURN OLD;
    END IF;
    INSERT INTO event_changes (subscription_id, event_id, graph_id, ical_uid, operation, start_utc, end_utc, subject)
    VALUES (NEW.subscription_id, NEW.id, NEW.graph_id, NEW.ical_uid, 'upsert', NEW.start_utc, NEW.end_utc, NEW.subject);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_feed_insert AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_feed();
-- Content changes only: an unchanged event seen again moves nothing but `sync_generation`.
CREATE TRIGGER events_feed_update AFTER UPDATE ON events
    FOR EACH ROW WHEN (NEW.updated_at IS DISTINCT FROM OLD.updated_at OR NEW.graph_id IS DISTINCT FROM OLD.graph_id
        OR NEW.ical_uid IS DISTINCT FROM OLD.ical_uid OR NEW.subject IS DISTINCT FROM OLD.subject
        OR NEW.start_utc IS DISTINCT FROM OLD.start_utc OR NEW.end_utc IS DISTINCT FROM OLD.end_utc
        OR NEW.attendees IS DISTINCT FROM OLD.attendees OR NEW.body_preview IS DISTINCT FROM OLD.body_preview
        OR NEW.location IS DISTINCT FROM OLD.location OR NEW.is_cancelled IS DISTINCT FROM OLD.is_cancelled)
    EXECUTE FUNCTION events_feed();
CREATE TRIGGER events_feed_delete AFTER DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_feed();

-- At commit: number this transaction's rows in the order they were written.
CREATE FUNCTION event_changes_number() RETURNS trigger AS $$
DECLARE
    me xid8 := pg_current_xact_id();
    pending BIGINT;
BEGIN
    IF current_setting('datapump.feed_numbered', true) = me::text THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(7305101);
    FOR pending IN SELECT id FROM event_changes WHERE tx = me AND seq IS NULL ORDER BY id LOOP
        UPDATE event_changes SET seq = nextval('event_changes_seq') WHERE id = pending;
    END LOOP;
    PERFORM set_config('datapump.feed_numbered', me::text, true);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER event_changes_number AFTER INSERT ON event_changes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION event_changes_number();
