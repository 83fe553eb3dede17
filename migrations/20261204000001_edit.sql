-- Edit and resend: a question may be edited into a new version. `edit_of` names the question a
-- new one replaced; the edit marks that question and everything after it `superseded_at` (a
-- branch left behind: readable, browsable as "1/2", out of every later prompt) and adds the
-- new question and its answer after them.
ALTER TABLE messages ADD COLUMN edit_of uuid REFERENCES messages(id) ON DELETE CASCADE;
-- Deleting a conversation deletes its messages: each delete looks up what names it.
CREATE INDEX messages_edit_of ON messages(edit_of) WHERE edit_of IS NOT NULL;
