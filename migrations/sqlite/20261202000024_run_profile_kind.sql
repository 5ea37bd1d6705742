-- Which kind of profile a run used (delegated account or application), as it was when the run
-- started; NULL for runs from before application profiles.
ALTER TABLE sync_runs ADD COLUMN profile_kind TEXT CHECK (profile_kind IN ('delegated', 'application'));
