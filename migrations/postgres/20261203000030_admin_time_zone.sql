-- Each admin may see times in a zone of their own (an IANA name); NULL = the instance's zone.
ALTER TABLE admins ADD COLUMN time_zone TEXT;
