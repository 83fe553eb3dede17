-- Accounts: roles and permissions, linked sign-in identities (GitHub, Google), the device
-- authorization grant (RFC 8628) and API keys. Secrets (device codes, API keys) are stored
-- only as SHA-256 hashes.

-- Roles with named permissions. Route guards ask for a permission, never a role name, so a
-- new role is rows here, not code.
CREATE TABLE roles (
    name         text PRIMARY KEY,
    description  text NOT NULL
);
CREATE TABLE role_permissions (
    role        text NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    permission  text NOT NULL,
    PRIMARY KEY (role, permission)
);
CREATE TABLE user_roles (
    user_id     uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        text        NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);
INSERT INTO roles (name, description) VALUES
    ('user',  'Chats, manages their own conversations, sessions and API keys'),
    ('admin', 'Everything a user can, plus managing other users');
INSERT INTO role_permissions (role, permission) VALUES
    ('user',  'chat'),
    ('admin', 'chat'),
    ('admin', 'users.read'),
    ('admin', 'users.write');
INSERT INTO user_roles (user_id, role) SELECT id, 'user' FROM users;

-- A GitHub or Google account linked to a user. Identity is the provider's stable user id,
-- never the email (emails change hands and can be unverified).
CREATE TABLE identities (
    provider          text        NOT NULL,
    provider_user_id  text        NOT NULL,
    user_id           uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email             text,
    login             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, provider_user_id)
);
CREATE INDEX identities_user ON identities(user_id);

-- An OAuth sign-in in progress: `state` (hashed) names it, the PKCE verifier waits here for
-- the callback, and `link_user_id` is set when a signed-in user is adding a provider.
CREATE TABLE oauth_states (
    state_hash     bytea PRIMARY KEY,
    provider       text        NOT NULL,
    pkce_verifier  text        NOT NULL,
    next_path      text        NOT NULL,
    link_user_id   uuid REFERENCES users(id) ON DELETE CASCADE,
    expires_at     timestamptz NOT NULL
);

-- RFC 8628 device authorization requests. `user_code` is kept normalized (8 letters, no dash).
CREATE TABLE device_codes (
    id                uuid PRIMARY KEY,
    device_code_hash  bytea       NOT NULL UNIQUE,
    user_code         text        NOT NULL UNIQUE,
    client_id         text        NOT NULL,
    scope             text,
    status            text        NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    user_id           uuid REFERENCES users(id) ON DELETE CASCADE,
    -- Grows by 5 s on every `slow_down` (RFC 8628 §3.5).
    interval_secs     integer     NOT NULL,
    last_polled_at    timestamptz,
    -- Shown on the approval page so the user can tell whose device asks (RFC 8628 §5.4).
    requester_ip      text,
    requester_agent   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    decided_at        timestamptz
);

-- Wrong user codes entered, per address. Counted over one code lifetime, per address and in
-- total, to hold the guessing bound of RFC 8628 §5.1 across every API process.
CREATE TABLE device_code_misses (
    ip      text        NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_code_misses_at ON device_code_misses(at);

-- API keys: `sk-sluice-` + 32 random bytes. The first characters are kept as `prefix` so a
-- user can tell keys apart; the whole key exists only in the answer that created it.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          text        NOT NULL,
    prefix        text        NOT NULL,
    key_hash      bytea       NOT NULL UNIQUE,
    enabled       boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX api_keys_user ON api_keys(user_id, created_at);
