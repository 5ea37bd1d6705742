-- `events_start` (start_utc over all subscriptions) is read by no query of Datapump's: every
-- time range it reads is per subscription (`events_subscription_start`) or per local day
-- (`events_local_date`), and for the overlap question a reader asks ("what runs between A and
-- B") an index on the start bounds one side only, scanning everything that started before B.
-- Its cost was large: each page of an import inserts its events at random places of this index,
-- so every commit rewrote one index page per event (measured on the side with SQLite: the
-- write-ahead log of a 150,000-event import went from 1.1 to 2.0 GB with it).
DROP INDEX events_start;
