-- PostgreSQL's migration of this number compares Graph's ids byte by byte (collation "C");
-- SQLite compares text that way already (BINARY). Kept so both databases carry the same
-- migration versions.
SELECT 1;
