-- Folders ("groups") and favorites: a conversation is in at most one of its owner's groups,
-- and may be starred. Deleting a group ungroups its conversations (the FK sets group_id
-- alone to NULL: Postgres 15's column list on SET NULL, so user_id stays).

CREATE TABLE groups (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The target of conversations' (group_id, user_id): a conversation can only be put in a
    -- group of its own owner, whatever a caller sends.
    UNIQUE (id, user_id)
);
-- One folder per name and owner, as people tell them apart (case aside).
CREATE UNIQUE INDEX groups_owner_name ON groups (user_id, lower(name));

ALTER TABLE conversations
    ADD COLUMN group_id uuid,
    ADD COLUMN favorite boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT conversations_group_fk FOREIGN KEY (group_id, user_id)
        REFERENCES groups (id, user_id) ON DELETE SET NULL (group_id);
CREATE INDEX conversations_group ON conversations (group_id, created_at DESC, id DESC)
    WHERE group_id IS NOT NULL;
CREATE INDEX conversations_favorite ON conversations (user_id, created_at DESC, id DESC)
    WHERE favorite;
