-- An API token may expire (issue 30, item 9): from that day on it is refused like a revoked one.
-- Empty: it does not expire (as every token made before).
ALTER TABLE api_tokens ADD COLUMN expires_on TEXT;
