-- Profiles: an Entra ID app registration plus the account authorized through it.
-- Secrets and tokens are sealed (XChaCha20-Poly1305) with the instance key; the AAD binds each
-- value to its column and the profile's uuid.

CREATE TABLE profiles (
    id                      INTEGER PRIMARY KEY,
    uuid                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    name_key                TEXT NOT NULL UNIQUE,
    tenant                  TEXT NOT NULL,
    client_id               TEXT NOT NULL,
    client_secret_enc       TEXT NOT NULL,
    secret_set_at           TEXT NOT NULL,
    secret_expires_on       TEXT NOT NULL,
    cloud                   TEXT NOT NULL,
    login_base              TEXT NOT NULL,
    graph_base              TEXT NOT NULL,
    redirect_uri            TEXT,
    notes                   TEXT NOT NULL DEFAULT '',
    status                  TEXT NOT NULL,
    status_code             TEXT,
    status_detail           TEXT,
    status_at               TEXT,
    account_name            TEXT,
    account_upn             TEXT,
    account_id              TEXT,
    granted_scopes          TEXT,
    refresh_token_enc       TEXT,
    access_token_enc        TEXT,
    access_expires_at       TEXT,
    token_version           BIGINT NOT NULL DEFAULT 0,
    refresh_lock_owner      TEXT,
    refresh_lock_until      TEXT,
    last_refresh_at         TEXT,
    transient_failures      BIGINT NOT NULL DEFAULT 0,
    next_attempt_at         TEXT,
    authorized_at           TEXT,
    authorized_by           TEXT,
    version                 BIGINT NOT NULL DEFAULT 1,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);

-- One pending authorization (state) per row: bound to the admin session that started it (the
-- session holds the state's hash too), single use, short-lived. The state itself is not stored.
CREATE TABLE oauth_transactions (
    state_hash   TEXT PRIMARY KEY NOT NULL,
    profile_id   BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    admin_id     BIGINT NOT NULL,
    verifier_enc TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX oauth_transactions_expires_at ON oauth_transactions (expires_at);
