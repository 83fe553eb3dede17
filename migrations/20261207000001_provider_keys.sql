-- Users' own provider keys (issue 25, BYOK). The key itself is sealed (shared/src/envelope.rs):
-- `ciphertext` under a data key of its own, `wrapped_key` that data key under master key
-- `master_key_id`. Only `last4` is ever shown.
CREATE TABLE provider_keys (
    user_id        uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider       text        NOT NULL CHECK (provider IN ('openai', 'anthropic', 'gemini')),
    enabled        boolean     NOT NULL DEFAULT true,
    -- When the provider refuses this key: try the server's own key instead of failing.
    allow_server_fallback boolean NOT NULL DEFAULT false,
    last4          text        NOT NULL,
    ciphertext     bytea       NOT NULL,
    wrapped_key    bytea       NOT NULL,
    master_key_id  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, provider)
);
-- Rotation finds what is still wrapped by an old master key.
CREATE INDEX provider_keys_master_key ON provider_keys(master_key_id);
