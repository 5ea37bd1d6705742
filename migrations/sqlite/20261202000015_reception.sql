-- Reception data: local times, attendees as rows with their kind, and two stable views.

-- Local wall-clock times in the configured zone (DATAPUMP_TIME_ZONE), written by Datapump with
-- every event and rewritten when the zone changes: SQLite has no time-zone database, and the
-- views must be the same on both databases. Format 'YYYY-MM-DD HH:MM:SS'.
ALTER TABLE events ADD COLUMN start_local TEXT;
ALTER TABLE events ADD COLUMN end_local TEXT;
ALTER TABLE events ADD COLUMN local_date TEXT;
CREATE INDEX events_local_date ON events (local_date);

-- Domains whose addresses are colleagues, not visitors: the mailboxes' and accounts' domains,
-- plus DATAPUMP_INTERNAL_DOMAINS. Kept by Datapump; lower case.
CREATE TABLE internal_domains (
    domain  TEXT PRIMARY KEY NOT NULL,
    source  TEXT NOT NULL CHECK (source IN ('mailbox', 'configured'))
);

-- One row per attendee, kept by triggers from events.attendees (the JSON column stays), so
-- every way of writing an event (import, masking private details, deletion) keeps them right.
CREATE TABLE event_attendees (
    event_id   BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    name       TEXT,
    address    TEXT,
    domain     TEXT,
    type       TEXT,
    response   TEXT,
    kind       TEXT NOT NULL CHECK (kind IN ('internal', 'external', 'room')),
    PRIMARY KEY (event_id, position)
);
-- kind: 'room' for resources; 'internal' for addresses in internal_domains; everything else,
-- also an attendee without an address, is 'external' (better one visitor too many on the list
-- than one nobody expects).
CREATE INDEX event_attendees_kind ON event_attendees (kind, event_id);

CREATE TRIGGER events_attendees_insert AFTER INSERT ON events
WHEN NEW.attendees IS NOT NULL
BEGIN
    INSERT INTO event_attendees (event_id, position, name, address, domain, type, response, kind)
    SELECT NEW.id, j.key, json_extract(j.value, '$.name'), json_extract(j.value, '$.address'),
           CASE WHEN instr(coalesce(json_extract(j.value, '$.address'), ''), '@') > 0
                THEN lower(substr(json_extract(j.value, '$.address'), instr(json_extract(j.value, '$.address'), '@') + 1)) END,
           json_extract(j.value, '$.type'), json_extract(j.value, '$.response'),
           CASE
               WHEN json_extract(j.value, '$.type') = 'resource' THEN 'room'
               WHEN lower(substr(json_extract(j.value, '$.address'), instr(json_extract(j.value, '$.address'), '@') + 1))
                    IN (SELECT domain FROM internal_domains) THEN 'internal'
               ELSE 'external'
           END
    FROM json_each(NEW.attendees) AS j;
END;

CREATE TRIGGER events_attendees_update AFTER UPDATE OF attendees ON events
WHEN NEW.attendees IS NOT OLD.attendees
BEGIN
    DELETE FROM event_attendees WHERE event_id = NEW.id;
    INSERT INTO event_attendees (event_id, position, name, address, domain, type, response, kind)
    SELECT NEW.id, j.key, json_extract(j.value, '$.name'), json_extract(j.value, '$.address'),
           CASE WHEN instr(coalesce(json_extract(j.value, '$.address'), ''), '@') > 0
                THEN lower(substr(json_extract(j.value, '$.address'), instr(json_extract(j.value, '$.address'), '@') + 1)) END,
           json_extract(j.value, '$.type'), json_extract(j.value, '$.response'),
           CASE
               WHEN json_extract(j.value, '$.type') = 'resource' THEN 'room'
               WHEN lower(substr(json_extract(j.value, '$.address'), instr(json_extract(j.value, '$.address'), '@') + 1))
                    IN (SELECT domain FROM internal_domains) THEN 'internal'
               ELSE 'external'
           END
    FROM json_each(CASE WHEN NEW.attendees IS NULL THEN '[]' ELSE NEW.attendees END) AS j;
END;

-- Per room (subscribed calendar) and local day: what the door sign shows.
CREATE VIEW room_schedule AS
SELECT s.id AS subscription_id, s.display_name AS room_name, s.mailbox_address AS room_address,
       e.local_date, e.start_local, e.end_local, e.is_all_day,
       e.subject, e.organizer_name, e.organizer_address,
       e.is_cancelled, e.show_as,
       CASE WHEN e.sensitivity IN ('private', 'confidential') THEN 1 ELSE 0 END AS is_private,
       e.id AS event_id, e.ical_uid, e.start_utc, e.end_utc
FROM events e JOIN subscriptions s ON s.id = e.subscription_id
WHERE s.deleted_at IS NULL;

-- Visitors: external attendees of meetings that take place (not cancelled, not declined), with
-- the organizer as host and the room they meet in.
CREATE VIEW expected_visitors AS
SELECT e.local_date, e.start_local, e.end_local,
       s.id AS subscription_id, s.display_name AS room_name, s.mailbox_address AS room_address,
       e.organizer_name AS host_name, e.organizer_address AS host_address,
       a.name AS visitor_name, a.address AS visitor_address, a.domain AS company_domain,
       CASE WHEN a.domain IN ('gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com',
                              'yahoo.com', 'icloud.com', 'gmx.de', 'gmx.net', 'web.de', 't-online.de')
            THEN NULL
            WHEN instr(a.domain, '.') > 1 THEN substr(a.domain, 1, instr(a.domain, '.') - 1)
            ELSE a.domain END AS company,
       a.response, e.subject,
       CASE WHEN e.sensitivity IN ('private', 'confidential') THEN 1 ELSE 0 END AS is_private,
       e.id AS event_id, e.start_utc, e.end_utc
FROM event_attendees a
JOIN events e ON e.id = a.event_id
JOIN subscriptions s ON s.id = e.subscription_id
WHERE a.kind = 'external' AND NOT e.is_cancelled AND coalesce(a.response, '') <> 'declined'
  AND s.deleted_at IS NULL;
