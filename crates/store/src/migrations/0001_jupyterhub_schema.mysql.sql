-- JupyterHub 6.1.1's schema on MySQL/MariaDB: what upstream's SQLAlchemy
-- models create there (Integer: INTEGER, Boolean: BOOL, Unicode(n):
-- VARCHAR(n), Text and the JSON columns: TEXT, LargeBinary: BLOB, DateTime:
-- DATETIME), with table-level foreign keys (MySQL ignores REFERENCES on a
-- column). Differences: DATETIME(6), so timestamps keep their microseconds as
-- on SQLite and PostgreSQL, and utf8mb4 with binary collation, so names
-- compare exactly as there. Constraints are named by upstream's convention
-- (uq_<table>_<column>, fk_<table>_<column>_<referred table>), which its
-- alembic migrations refer to. {table} is filled in with the table options.
CREATE TABLE users (
    id INTEGER NOT NULL AUTO_INCREMENT,
    name VARCHAR(255),
    user_info TEXT,
    admin BOOL,
    created DATETIME(6),
    last_activity DATETIME(6),
    cookie_id VARCHAR(255) NOT NULL,
    state TEXT,
    encrypted_auth_state BLOB,
    PRIMARY KEY (id),
    CONSTRAINT uq_users_name UNIQUE (name),
    CONSTRAINT uq_users_cookie_id UNIQUE (cookie_id)
) {table};
CREATE TABLE servers (
    id INTEGER NOT NULL AUTO_INCREMENT,
    proto VARCHAR(15),
    ip VARCHAR(255),
    port INTEGER,
    base_url VARCHAR(255),
    cookie_name VARCHAR(255),
    PRIMARY KEY (id)
) {table};
CREATE TABLE oauth_clients (
    id INTEGER NOT NULL AUTO_INCREMENT,
    identifier VARCHAR(255),
    description VARCHAR(1023),
    secret VARCHAR(255),
    redirect_uri VARCHAR(1023),
    allowed_scopes TEXT,
    PRIMARY KEY (id),
    CONSTRAINT uq_oauth_clients_identifier UNIQUE (identifier)
) {table};
CREATE TABLE services (
    id INTEGER NOT NULL AUTO_INCREMENT,
    name VARCHAR(255),
    admin BOOL,
    url VARCHAR(2047),
    oauth_client_allowed_scopes TEXT,
    info TEXT,
    display BOOL,
    oauth_no_confirm BOOL,
    command TEXT,
    cwd VARCHAR(4095),
    environment TEXT,
    "user" VARCHAR(255),
    timeout INTEGER NOT NULL,
    from_config BOOL,
    _server_id INTEGER,
    pid INTEGER,
    oauth_client_id VARCHAR(255),
    PRIMARY KEY (id),
    CONSTRAINT uq_services_name UNIQUE (name),
    CONSTRAINT fk_services__server_id_servers FOREIGN KEY (_server_id) REFERENCES servers (id) ON DELETE SET NULL,
    CONSTRAINT fk_services_oauth_client_id_oauth_clients FOREIGN KEY (oauth_client_id) REFERENCES oauth_clients (identifier) ON DELETE SET NULL
) {table};
CREATE TABLE spawners (
    id INTEGER NOT NULL AUTO_INCREMENT,
    user_id INTEGER,
    server_id INTEGER,
    state TEXT,
    name VARCHAR(255),
    display_name VARCHAR(255),
    started DATETIME(6),
    last_activity DATETIME(6),
    user_options TEXT,
    oauth_client_id VARCHAR(255),
    PRIMARY KEY (id),
    CONSTRAINT fk_spawners_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_spawners_server_id_servers FOREIGN KEY (server_id) REFERENCES servers (id) ON DELETE SET NULL,
    CONSTRAINT fk_spawners_oauth_client_id_oauth_clients FOREIGN KEY (oauth_client_id) REFERENCES oauth_clients (identifier) ON DELETE SET NULL
) {table};
CREATE TABLE groups (
    id INTEGER NOT NULL AUTO_INCREMENT,
    name VARCHAR(255),
    properties TEXT,
    PRIMARY KEY (id),
    CONSTRAINT uq_groups_name UNIQUE (name)
) {table};
CREATE TABLE roles (
    id INTEGER NOT NULL AUTO_INCREMENT,
    name VARCHAR(255),
    description VARCHAR(1023),
    scopes TEXT,
    managed_by_auth BOOL NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_roles_name UNIQUE (name)
) {table};
CREATE TABLE user_group_map (
    user_id INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id),
    CONSTRAINT fk_user_group_map_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_group_map_group_id_groups FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE
) {table};
CREATE TABLE user_role_map (
    user_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    managed_by_auth BOOL NOT NULL,
    PRIMARY KEY (user_id, role_id),
    CONSTRAINT fk_user_role_map_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_role_map_role_id_roles FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE
) {table};
CREATE TABLE group_role_map (
    group_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    managed_by_auth BOOL NOT NULL,
    PRIMARY KEY (group_id, role_id),
    CONSTRAINT fk_group_role_map_group_id_groups FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE,
    CONSTRAINT fk_group_role_map_role_id_roles FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE
) {table};
CREATE TABLE service_role_map (
    service_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    managed_by_auth BOOL NOT NULL,
    PRIMARY KEY (service_id, role_id),
    CONSTRAINT fk_service_role_map_service_id_services FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE CASCADE,
    CONSTRAINT fk_service_role_map_role_id_roles FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE
) {table};
CREATE TABLE api_tokens (
    user_id INTEGER,
    service_id INTEGER,
    id INTEGER NOT NULL AUTO_INCREMENT,
    hashed VARCHAR(255),
    prefix VARCHAR(16),
    client_id VARCHAR(255),
    session_id VARCHAR(255),
    created DATETIME(6),
    expires_at DATETIME(6),
    last_activity DATETIME(6),
    note VARCHAR(1023),
    scopes TEXT,
    PRIMARY KEY (id),
    CONSTRAINT uq_api_tokens_hashed UNIQUE (hashed),
    CONSTRAINT fk_api_tokens_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_api_tokens_service_id_services FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE CASCADE,
    CONSTRAINT fk_api_tokens_client_id_oauth_clients FOREIGN KEY (client_id) REFERENCES oauth_clients (identifier) ON DELETE CASCADE
) {table};
CREATE INDEX ix_api_tokens_prefix ON api_tokens (prefix);
CREATE TABLE oauth_codes (
    id INTEGER NOT NULL AUTO_INCREMENT,
    client_id VARCHAR(255),
    code VARCHAR(36),
    expires_at INTEGER,
    redirect_uri VARCHAR(1023),
    session_id VARCHAR(255),
    user_id INTEGER,
    scopes TEXT,
    code_challenge VARCHAR(255),
    code_challenge_method VARCHAR(64),
    PRIMARY KEY (id),
    CONSTRAINT fk_oauth_codes_client_id_oauth_clients FOREIGN KEY (client_id) REFERENCES oauth_clients (identifier) ON DELETE CASCADE,
    CONSTRAINT fk_oauth_codes_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) {table};
CREATE TABLE shares (
    user_id INTEGER,
    group_id INTEGER,
    id INTEGER NOT NULL AUTO_INCREMENT,
    created_at DATETIME(6) NOT NULL,
    scopes TEXT,
    expires_at DATETIME(6),
    owner_id INTEGER,
    spawner_id INTEGER,
    PRIMARY KEY (id),
    CONSTRAINT fk_shares_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_shares_group_id_groups FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE,
    CONSTRAINT fk_shares_owner_id_users FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_shares_spawner_id_spawners FOREIGN KEY (spawner_id) REFERENCES spawners (id) ON DELETE CASCADE
) {table};
CREATE TABLE share_codes (
    hashed VARCHAR(255),
    prefix VARCHAR(16),
    exchange_count INTEGER,
    last_exchanged_at DATETIME(6),
    id INTEGER NOT NULL AUTO_INCREMENT,
    created_at DATETIME(6) NOT NULL,
    scopes TEXT,
    expires_at DATETIME(6),
    owner_id INTEGER,
    spawner_id INTEGER,
    PRIMARY KEY (id),
    CONSTRAINT uq_share_codes_hashed UNIQUE (hashed),
    CONSTRAINT fk_share_codes_owner_id_users FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_share_codes_spawner_id_spawners FOREIGN KEY (spawner_id) REFERENCES spawners (id) ON DELETE CASCADE
) {table};
CREATE INDEX ix_share_codes_prefix ON share_codes (prefix);
