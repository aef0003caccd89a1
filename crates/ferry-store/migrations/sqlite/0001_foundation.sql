-- Foundation: organizations, customers, users, API tokens.
-- Every table carries org_id; the store scopes every query by it.

CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- One row once the first organization and its owner exist, so that concurrent
-- first starts bootstrap exactly once.
CREATE TABLE bootstrap (
    singleton   INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL
);

CREATE TABLE customers (
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           BLOB PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    external_id  TEXT,
    labels       TEXT NOT NULL DEFAULT '[]',
    is_system    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX customers_org_name ON customers (org_id, name);
CREATE UNIQUE INDEX customers_org_external_id ON customers (org_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE customer_labels (
    org_id       BLOB NOT NULL,
    customer_id  BLOB NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    PRIMARY KEY (customer_id, label)
);
CREATE INDEX customer_labels_org_label ON customer_labels (org_id, label);

CREATE TABLE users (
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           BLOB PRIMARY KEY NOT NULL,
    customer_id  BLOB REFERENCES customers (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    phone        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX users_org_email ON users (org_id, email);
CREATE INDEX users_org_customer ON users (org_id, customer_id);

CREATE TABLE api_tokens (
    org_id       BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_org_user ON api_tokens (org_id, user_id);
