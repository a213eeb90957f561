-- The PostgreSQL schema ferrohub's migrations made before schema version 3
-- (versions 1 and 2: BIGSERIAL ids, BIGINT flags and numbers, TEXT
-- timestamps, PostgreSQL's own constraint names), kept to test that version 3
-- converts such a database to upstream JupyterHub's types.
CREATE TABLE ferrohub_schema (version BIGINT NOT NULL);
INSERT INTO ferrohub_schema (version) VALUES (2);
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(255) UNIQUE,
    user_info TEXT,
    admin BIGINT,
    created TEXT,
    last_activity TEXT,
    cookie_id VARCHAR(255) NOT NULL UNIQUE,
    state TEXT,
    encrypted_auth_state BYTEA
);
CREATE TABLE servers (
    id BIGSERIAL PRIMARY KEY,
    proto VARCHAR(15),
    ip VARCHAR(255),
    port BIGINT,
    base_url VARCHAR(255),
    cookie_name VARCHAR(255)
);
CREATE TABLE oauth_clients (
    id BIGSERIAL PRIMARY KEY,
    identifier VARCHAR(255) UNIQUE,
    description VARCHAR(1023),
    secret VARCHAR(255),
    redirect_uri VARCHAR(1023),
    allowed_scopes TEXT
);
CREATE TABLE services (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(255) UNIQUE,
    admin BIGINT,
    url VARCHAR(2047),
    oauth_client_allowed_scopes TEXT,
    info TEXT,
    display BIGINT,
    oauth_no_confirm BIGINT,
    command TEXT,
    cwd VARCHAR(4095),
    environment TEXT,
    "user" VARCHAR(255),
    timeout BIGINT NOT NULL,
    from_config BIGINT,
    _server_id BIGINT REFERENCES servers (id) ON DELETE SET NULL,
    pid BIGINT,
    oauth_client_id VARCHAR(255) REFERENCES oauth_clients (identifier) ON DELETE SET NULL
);
CREATE TABLE spawners (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    server_id BIGINT REFERENCES servers (id) ON DELETE SET NULL,
    state TEXT,
    name VARCHAR(255),
    display_name VARCHAR(255),
    started TEXT,
    last_activity TEXT,
    user_options TEXT,
    oauth_client_id VARCHAR(255) REFERENCES oauth_clients (identifier) ON DELETE SET NULL
);
CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(255) UNIQUE,
    properties TEXT
);
CREATE TABLE roles (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(255) UNIQUE,
    description VARCHAR(1023),
    scopes TEXT,
    managed_by_auth BIGINT NOT NULL
);
CREATE TABLE user_group_map (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE TABLE user_role_map (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    managed_by_auth BIGINT NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE TABLE group_role_map (
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    managed_by_auth BIGINT NOT NULL,
    PRIMARY KEY (group_id, role_id)
);
CREATE TABLE service_role_map (
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    managed_by_auth BIGINT NOT NULL,
    PRIMARY KEY (service_id, role_id)
);
CREATE TABLE api_tokens (
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    service_id BIGINT REFERENCES services (id) ON DELETE CASCADE,
    id BIGSERIAL PRIMARY KEY,
    hashed VARCHAR(255) UNIQUE,
    prefix VARCHAR(16),
    client_id VARCHAR(255) REFERENCES oauth_clients (identifier) ON DELETE CASCADE,
    session_id VARCHAR(255),
    created TEXT,
    expires_at TEXT,
    last_activity TEXT,
    note VARCHAR(1023),
    scopes TEXT
);
CREATE INDEX ix_api_tokens_prefix ON api_tokens (prefix);
CREATE TABLE oauth_codes (
    id BIGSERIAL PRIMARY KEY,
    client_id VARCHAR(255) REFERENCES oauth_clients (identifier) ON DELETE CASCADE,
    code VARCHAR(36),
    expires_at BIGINT,
    redirect_uri VARCHAR(1023),
    session_id VARCHAR(255),
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT,
    code_challenge VARCHAR(255),
    code_challenge_method VARCHAR(64)
);
CREATE TABLE shares (
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    group_id BIGINT REFERENCES groups (id) ON DELETE CASCADE,
    id BIGSERIAL PRIMARY KEY,
    created_at TEXT NOT NULL,
    scopes TEXT,
    expires_at TEXT,
    owner_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    spawner_id BIGINT REFERENCES spawners (id) ON DELETE CASCADE
);
CREATE TABLE share_codes (
    hashed VARCHAR(255) UNIQUE,
    prefix VARCHAR(16),
    exchange_count BIGINT,
    last_exchanged_at TEXT,
    id BIGSERIAL PRIMARY KEY,
    created_at TEXT NOT NULL,
    scopes TEXT,
    expires_at TEXT,
    owner_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    spawner_id BIGINT REFERENCES spawners (id) ON DELETE CASCADE
);
CREATE INDEX ix_share_codes_prefix ON share_codes (prefix);
CREATE UNIQUE INDEX ix_spawners_user_id_name ON spawners (user_id, name);
CREATE INDEX ix_oauth_codes_code ON oauth_codes (code);
CREATE INDEX ix_api_tokens_session_id ON api_tokens (session_id);
