-- Refresh tokens rotate on every use. Each one ever issued is kept (hashed) with the session
-- it belongs to, so presenting an already-replaced token is recognised as reuse — a stolen
-- token — and ends the whole session (the token family), not just that token.
CREATE TABLE refresh_tokens (
    token_hash   bytea       PRIMARY KEY,
    session_id   uuid        NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    replaced_at  timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

INSERT INTO refresh_tokens (token_hash, session_id, created_at)
SELECT refresh_token_hash, id, created_at FROM sessions;

ALTER TABLE sessions DROP COLUMN refresh_token_hash;
