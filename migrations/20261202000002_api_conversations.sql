-- Conversations created through the OpenAI-compatible API (`/v1/chat/completions`): one per
-- request, holding the request's messages. The web app lists only its own ('app') unless asked.
ALTER TABLE conversations
    ADD COLUMN origin text NOT NULL DEFAULT 'app' CHECK (origin IN ('app', 'api'));
DROP INDEX conversations_owner_page;
CREATE INDEX conversations_owner_page ON conversations(user_id, origin, created_at DESC, id DESC);
