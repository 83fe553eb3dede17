-- Who gave a conversation its title: `rule` (the first message's words, or none yet), `user`
-- (named or renamed), `model` (the title job, after the first answer). The title job replaces
-- only a `rule` title, so a name the user gave is never overwritten. Conversations made before
-- this are left as they are named (`user`): a title job would otherwise rename a conversation
-- people have known for days the next time they chat in it.
ALTER TABLE conversations
    ADD COLUMN title_set_by text NOT NULL DEFAULT 'user'
        CHECK (title_set_by IN ('rule', 'user', 'model'));
ALTER TABLE conversations ALTER COLUMN title_set_by SET DEFAULT 'rule';
