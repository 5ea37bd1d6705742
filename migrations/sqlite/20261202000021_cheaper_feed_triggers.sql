-- PostgreSQL only (statement-level triggers and numbering once per transaction); SQLite
-- numbers feed entries as they are written (one writer at a time) and keeps its row triggers.
-- This migration keeps the two histories the same length.
SELECT 1;
