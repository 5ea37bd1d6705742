-- Run history that stays small (issue 17): a run that changed nothing, was not throttled and
-- did not fail is counted in its subscription's hour in `sync_run_hours`; only the latest such
-- run of each subscription stays in `sync_runs` (marked `quiet`). Runs that changed something,
-- failed or waited for Graph stay individual rows.
ALTER TABLE sync_runs ADD COLUMN quiet BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sync_runs_quiet ON sync_runs (subscription_id) WHERE quiet;
CREATE TABLE sync_run_hours (
    subscription_id  BIGINT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    hour             TIMESTAMPTZ NOT NULL,
    runs             BIGINT NOT NULL,
    requests         BIGINT NOT NULL,
    duration_ms      BIGINT NOT NULL,
    max_duration_ms  BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, hour)
);
CREATE INDEX sync_run_hours_hour ON sync_run_hours (hour);
