-- SQLite's migration of this number rewrites its attendee triggers to read each attendee's
-- fields once; PostgreSQL's statement-level triggers (migration 21) already do. Kept so both
-- databases carry the same migration versions.
SELECT 1;
