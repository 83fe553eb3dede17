-- The spine: users, sessions, conversations, messages.
-- apalis's queue lives in schema `apalis` with its own migration history; it needs hstore.
CREATE EXTENSION IF NOT EXISTS hstore;

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    display_name  text        NOT NULL,
    -- NULL for guests; the accounts issue adds passwords and linked identities beside it.
    email         text UNIQUE,
    is_guest      boolean     NOT NULL DEFAULT true,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per signed-in device. An access token names its session (`sid`), so revoking the
-- row ends the token at once. Refresh tokens rotate within a family; only hashes are stored.
CREATE TABLE sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id           uuid        NOT NULL,
    refresh_token_hash  bytea       NOT NULL UNIQUE,
    user_agent          text,
    ip                  text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_used_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE conversations (
    id             uuid PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title          text,
    model          text        NOT NULL,
    system_prompt  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Cursor pagination walks (created_at, id) newest first, per owner.
CREATE INDEX conversations_owner_page ON conversations(user_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id               uuid PRIMARY KEY,
    conversation_id  uuid        NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id          uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role             text        NOT NULL CHECK (role IN ('user', 'assistant')),
    content          text        NOT NULL DEFAULT '',
    status           text        NOT NULL
                     CHECK (status IN ('complete', 'queued', 'streaming', 'done', 'error', 'cancelled')),
    model            text,
    provider         text,
    -- Incremented by each worker attempt; attempt > 1 publishes `reset` first.
    attempt          integer     NOT NULL DEFAULT 0,
    -- JetStream sequence at or before this message's first event. Re-attaching starts here
    -- (Direct Get / ordered consumer by start sequence) so nothing ever scans the stream.
    first_seq        bigint,
    -- Set by `POST /api/messages/{id}/cancel`; a worker that claims the job later honours it.
    cancel_requested boolean     NOT NULL DEFAULT false,
    -- Sequence of the terminal event, so a replay knows where the message ends.
    last_seq         bigint,
    finish_reason    text,
    input_tokens     integer,
    output_tokens    integer,
    cost_usd         numeric(12, 6),
    latency_ms       integer,
    ttft_ms          integer,
    error_code       text,
    error_message    text,
    request_id       text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at       timestamptz,
    completed_at     timestamptz
);
CREATE INDEX messages_conversation ON messages(conversation_id, created_at, id);
-- In-flight answers of a conversation (the conversation-wide event stream attaches to them).
CREATE INDEX messages_in_flight ON messages(conversation_id) WHERE status IN ('queued', 'streaming');
