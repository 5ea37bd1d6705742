-- PostgreSQL's migration of this number takes the feed's commit-time lock per schema; SQLite
-- numbers entries as they are written, one writer at a time. Kept so both databases carry the
-- same migration versions.
SELECT 1;
