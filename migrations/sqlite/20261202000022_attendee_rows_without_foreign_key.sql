-- No query needs the index on (kind, event_id): every reader goes from events (by room, date or
-- id) to their attendees through the primary key, and each attendee row paid for one more index
-- entry. (PostgreSQL's migration of the same number also drops the foreign key, whose check ran
-- once per attendee row there; on SQLite the check is a primary-key lookup and stays, with the
-- cascade on delete.)
DROP INDEX event_attendees_kind;
