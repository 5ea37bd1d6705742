-- Graph's `importance` of an event (low, normal, high): readers show urgent meetings apart.
ALTER TABLE events ADD COLUMN importance TEXT;
