-- A consumer's outbound webhook: the change feed pushed to its URL, signed with a secret of its
-- own (sealed: it is needed to sign), delivered at least once from `after_seq` on.
CREATE TABLE webhooks (
    token_id        BIGINT PRIMARY KEY REFERENCES api_tokens (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    secret_enc      TEXT NOT NULL,
    after_seq       BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    delivered       BIGINT NOT NULL DEFAULT 0,
    last_success_at TEXT,
    failures        BIGINT NOT NULL DEFAULT 0,
    last_failure_at TEXT,
    last_error      TEXT,
    -- Changes were pruned before this consumer received them: it must re-read.
    gap_at          TEXT
);
