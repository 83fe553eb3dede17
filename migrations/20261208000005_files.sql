-- Attachments: files a user uploads (kept in the object store under files/{user_id}/{id}) and
-- sends with a question. A file belongs to one question; deleting the question (its
-- conversation) or the user deletes the row, and a trigger queues its object for the clean-up
-- job, which deletes it from storage.
CREATE TABLE files (
    id            uuid PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          text        NOT NULL,
    -- What the content is (sniffed from its bytes, not the name): the type it is served as.
    content_type  text        NOT NULL,
    bytes         bigint      NOT NULL,
    -- What a prompt reads of it: a text file's text or a PDF's extracted text, at most
    -- [files] max_text_chars of it (NULL for images).
    text          text,
    -- Characters of text the file held: more than length(text) when it was cut.
    text_chars    bigint,
    -- The question it was sent with (NULL until sent). Not a foreign key: a send claims its
    -- files just before the statement that writes its question (api/src/files/attach.rs); the
    -- trigger below deletes a question's files with it.
    message_id    uuid,
    -- When a send claimed it: a claim whose question never appeared (the API died between
    -- the two) is given back by the clean-up job after a while.
    claimed_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_owner ON files (user_id, created_at DESC, id DESC);
CREATE INDEX files_message ON files (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX files_unsent ON files (created_at) WHERE message_id IS NULL;

-- Objects whose rows are gone, for the clean-up job.
CREATE TABLE file_deletions (
    user_id    uuid        NOT NULL,
    file_id    uuid        NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, file_id)
);

CREATE FUNCTION sluice_files_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_deletions (user_id, file_id)
    SELECT g.user_id, g.id FROM gone g
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER files_gone AFTER DELETE ON files
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION sluice_files_gone();

CREATE FUNCTION sluice_questions_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM files f USING gone m WHERE f.message_id = m.id AND m.role = 'user';
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_files_gone AFTER DELETE ON messages
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION sluice_questions_gone();
