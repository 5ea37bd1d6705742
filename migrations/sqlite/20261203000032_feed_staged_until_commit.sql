-- PostgreSQL's migration of this number stages feed entries until commit, where they are numbered;
-- SQLite has one writer at a time, so its entries are numbered as they are written and commit in
-- that order. Kept so both databases carry the same migration versions.
SELECT 1;
