-- Two indexes every feed entry paid for: nothing reads the feed by subscription, and pruning
-- finds its cut by a binary search over `seq` instead of an index on the time. (PostgreSQL's
-- migration of the same number also makes its triggers statement-level; SQLite keeps its row
-- triggers and numbers entries as they are written, one writer at a time.)
DROP INDEX event_changes_subscription;
DROP INDEX event_changes_changed_at;
