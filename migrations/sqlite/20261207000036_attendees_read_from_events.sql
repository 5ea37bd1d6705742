-- `event_attendees` becomes a view over `events.attendees`: the same columns and rows as the
-- table the triggers kept, computed when read (see PostgreSQL's migration of this number: the
-- attendee rows were the largest part of writing an event). `kind` now always follows the
-- current internal domains.

DROP VIEW expected_visitors;
DROP TRIGGER events_attendees_insert;
DROP TRIGGER events_attendees_update;
DROP TABLE event_attendees;

-- kind: 'room' for resources; 'internal' for addresses in internal_domains; everything else,
-- also an attendee without an address, is 'external'.
CREATE VIEW event_attendees AS
SELECT event_id, position, name, address, domain, type, response,
       CASE WHEN type = 'resource' THEN 'room'
            WHEN domain IN (SELECT domain FROM internal_domains) THEN 'internal'
            ELSE 'external' END AS kind
FROM (SELECT event_id, position, name, address, type, response,
             lower(substr(address, nullif(instr(address, '@'), 0) + 1)) AS domain
      FROM (SELECT e.id AS event_id, j.key AS position, json_extract(j.value, '$.name') AS name,
                   json_extract(j.value, '$.address') AS address, json_extract(j.value, '$.type') AS type,
                   json_extract(j.value, '$.response') AS response
            FROM events e, jsonb_each(e.attendees) AS j
            WHERE e.attendees IS NOT NULL));

-- As in migration 15, over the view.
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
