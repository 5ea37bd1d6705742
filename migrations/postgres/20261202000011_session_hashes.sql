-- Sessions are stored under a hash of their id from now on: sessions stored under their plain
-- id (readable from a backup) end here, and everyone signs in once more.
DELETE FROM sessions;
