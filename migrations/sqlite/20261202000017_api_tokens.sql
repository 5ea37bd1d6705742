-- Tokens of the read-only API: only a hash is stored; scoped to every subscription or a list.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    all_subscriptions BOOLEAN NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    last_used_at  TEXT,
    use_count     BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE api_token_subscriptions (
    token_id        BIGINT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, subscription_id)
);
