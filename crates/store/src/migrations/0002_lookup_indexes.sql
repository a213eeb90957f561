-- ferrohub's own indexes for the hot look-ups upstream scans for.
CREATE UNIQUE INDEX ix_spawners_user_id_name ON spawners (user_id, name);
CREATE INDEX ix_oauth_codes_code ON oauth_codes (code);
CREATE INDEX ix_api_tokens_session_id ON api_tokens (session_id);
