-- `events_start` (start_utc over all subscriptions) is read by no query of Datapump's: every
-- time range it reads is per subscription (`events_subscription_start`) or per local day
-- (`events_local_date`), and for the overlap question a reader asks ("what runs between A and
-- B") an index on the start bounds one side only, scanning everything that started before B.
-- Its cost was large: each page of an import inserts its events at random places of this index,
-- so every commit rewrote one index page per event (measured on the side with SQLite: the
-- write-ahead log of a 150,000-event import went from 1.1 to 2.0 GB with it).
DROP INDEX events_start;

-- The attendee triggers walk the array with `jsonb_each`, which hands each attendee over as
-- SQLite's binary JSON: `json_each` rendered every attendee object back to text, which each
-- `json_extract` then parsed again (a twentieth of the import's SQLite time in `perf`). Same
-- rows as before.
DROP TRIGGER events_attendees_insert;
DROP TRIGGER events_attendees_update;

CREATE TRIGGER events_attendees_insert AFTER INSERT ON events
WHEN NEW.attendees IS NOT NULL
BEGIN
    INSERT INTO event_attendees (event_id, position, name, address, domain, type, response, kind)
    SELECT NEW.id, p, n, a, d, t, r,
           CASE WHEN t = 'resource' THEN 'room'
                WHEN d IN (SELECT domain FROM internal_domains) THEN 'internal'
                ELSE 'external' END
    FROM (SELECT p, n, a, t, r, lower(substr(a, nullif(instr(a, '@'), 0) + 1)) AS d
          FROM (SELECT j.key AS p, json_extract(j.value, '$.name') AS n,
                       json_extract(j.value, '$.address') AS a, json_extract(j.value, '$.type') AS t,
                       json_extract(j.value, '$.response') AS r
                FROM jsonb_each(NEW.attendees) AS j LIMIT -1)
          LIMIT -1);
END;

CREATE TRIGGER events_attendees_update AFTER UPDATE OF attendees ON events
WHEN NEW.attendees IS NOT OLD.attendees
BEGIN
    DELETE FROM event_attendees WHERE event_id = NEW.id;
    INSERT INTO event_attendees (event_id, position, name, address, domain, type, response, kind)
    SELECT NEW.id, p, n, a, d, t, r,
           CASE WHEN t = 'resource' THEN 'room'
                WHEN d IN (SELECT domain FROM internal_domains) THEN 'internal'
                ELSE 'external' END
    FROM (SELECT p, n, a, t, r, lower(substr(a, nullif(instr(a, '@'), 0) + 1)) AS d
          FROM (SELECT j.key AS p, json_extract(j.value, '$.name') AS n,
                       json_extract(j.value, '$.address') AS a, json_extract(j.value, '$.type') AS t,
                       json_extract(j.value, '$.response') AS r
                FROM jsonb_each(coalesce(NEW.attendees, '[]')) AS j LIMIT -1)
          LIMIT -1);
END;
