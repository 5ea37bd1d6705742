-- One row that /readyz rewrites: proof that the database still takes writes (a full disk
-- lets SELECT 1 pass and every write fail).
CREATE TABLE health_probe (
    id BIGINT PRIMARY KEY,
    at TEXT NOT NULL
);
