-- JupyterHub 6.1.1's schema (alembic head f460b0348206), so upstream SQLite
-- databases can be adopted. {id} {int} {blob} are filled in per dialect.
-- SQLite only: PostgreSQL and MySQL have their own files with upstream's types.
CREATE TABLE users (
    id {id},
    name VARCHAR(255) UNIQUE,
    user_info TEXT,
    admin {int},
    created TEXT,
    last_activity TEXT,
    cookie_id VARCHAR(255) NOT NULL UNIQUE,
    state TEXT,
    encrypted_auth_state {blob}
);
CREATE TABLE servers (
    id {id},
    proto VARCHAR(15),
    ip VARCHAR(255),
    port {int},
    base_url VARCHAR(255),
    cookie_name VARCHAR(255)
);
CREATE TABLE oauth_clients (
    id {id},
    identifier VARCHAR(255) UNIQUE,
    description VARCHAR(1023),
    secret VARCHAR(255),
    redirect_uri VARCHAR(1023),
    allowed_scopes TEXT
);
CREATE TABLE services (
    id {id},
    name VARCHAR(255) UNIQUE,
    admin {int},
    url VARCHAR(2047),
    oauth_client_allowed_scopes TEXT,
    info TEXT,
    display {int},
    oauth_no_confirm {int},
    command TEXT,
    cwd VARCHAR(4095),
    environment TEXT,
    "user" VARCHAR(255),
    timeout {int} NOT NULL,
    from_config {int},
    _server_id {int} REFERENCES servers (id) ON DELETE SET NULL,
    pid {int},
    oauth_client_id VARCHAR(255) REFERENCES oauth_clients (identifier) ON DELETE SET NULL
);
CREATE TABLE spawners (
    id {id},
    user_id {int} REFERENCES users (id) ON DELETE CASCADE,
    server_id {int} REFERENCES servers (id) ON DELETE SET NULL,
    state TEXT,
    name VARCHAR(255),
    display_name VARCHAR(255),
    started TEXT,
    last_activity TEXT,
    user_options TEXT,
    oauth_client_id VARCHAR(255) REFERENCES oauth_clients (identifier) ON DELETE SET NULL
);
CREATE TABLE groups (
    id {id},
    name VARCHAR(255) UNIQUE,
    properties TEXT
);
CREATE TABLE roles (
    id {id},
    name VARCHAR(255) UNIQUE,
    description VARCHAR(1023),
    scopes TEXT,
    managed_by_auth {int} NOT NULL
);
CREATE TABLE user_group_map (
    user_id {int} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id {int} NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE TABLE user_role_map (
    user_id {int} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id {int} NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    managed_by_auth {int} NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE TABLE group_role_map (
    group_id {int} NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id {int} NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    managed_by_auth {int} NOT NULL,
    PRIMARY KEY (group_id, role_id)
);
CREATE TABLE service_role_map (
    service_id {int} NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    role_id {int} NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    managed_by_auth {int} NOT NULL,
    PRIMARY KEY (service_id, role_id)
);
CREATE TABLE api_tokens (
    user_id {int} REFERENCES users (id) ON DELETE CASCADE,
    service_id {int} REFERENCES services (id) ON DELETE CASCADE,
    id {id},
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
    id {id},
    client_id VARCHAR(255) REFERENCES oauth_clients (identifier) ON DELETE CASCADE,
    code VARCHAR(36),
    expires_at {int},
    redirect_uri VARCHAR(1023),
    session_id VARCHAR(255),
    user_id {int} REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT,
    code_challenge VARCHAR(255),
    code_challenge_method VARCHAR(64)
);
CREATE TABLE shares (
    user_id {int} REFERENCES users (id) ON DELETE CASCADE,
    group_id {int} REFERENCES groups (id) ON DELETE CASCADE,
    id {id},
    created_at TEXT NOT NULL,
    scopes TEXT,
    expires_at TEXT,
    owner_id {int} REFERENCES users (id) ON DELETE CASCADE,
    spawner_id {int} REFERENCES spawners (id) ON DELETE CASCADE
);
CREATE TABLE share_codes (
    hashed VARCHAR(255) UNIQUE,
    prefix VARCHAR(16),
    exchange_count {int},
    last_exchanged_at TEXT,
    id {id},
    created_at TEXT NOT NULL,
    scopes TEXT,
    expires_at TEXT,
    owner_id {int} REFERENCES users (id) ON DELETE CASCADE,
    spawner_id {int} REFERENCES spawners (id) ON DELETE CASCADE
);
CREATE INDEX ix_share_codes_prefix ON share_codes (prefix);
