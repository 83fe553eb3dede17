-- Regenerate: a question may have several answers. `reply_to` names the user message an
-- answer answers; regenerating adds a newer answer to the same question and marks the older
-- one `superseded_at`: it stays readable (the web app browses "1/2") but leaves the prompt
-- of every later turn.
ALTER TABLE messages ADD COLUMN reply_to uuid REFERENCES messages(id) ON DELETE CASCADE;
ALTER TABLE messages ADD COLUMN superseded_at timestamptz;

-- Answers stored before this migration answer the user message just before them.
UPDATE messages a SET reply_to = (
    SELECT u.id FROM messages u
    WHERE u.conversation_id = a.conversation_id AND u.role = 'user'
      AND (u.created_at, u.id) < (a.created_at, a.id)
    ORDER BY u.created_at DESC, u.id DESC LIMIT 1)
WHERE a.role = 'assistant';

CREATE INDEX messages_reply_to ON messages(reply_to) WHERE reply_to IS NOT NULL;
