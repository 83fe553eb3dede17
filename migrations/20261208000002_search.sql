-- Search (`GET /api/search`): full text over titles and message text, ranked, with a trigram
-- fallback for what full text does not stem (identifiers, names, parts of words).
-- Both indexes lead with the owner (btree_gin), so a search reads one user's entries only.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- 'english': stems (plans, planning → plan) and drops stop words. Generated, so every way a
-- text is written (a send, a worker's final write, an edit) keeps it current.
ALTER TABLE messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED;
ALTER TABLE conversations
    ADD COLUMN search tsvector
        GENERATED ALWAYS AS (to_tsvector('english', COALESCE(title, ''))) STORED;

CREATE INDEX messages_search ON messages USING gin (user_id, search);
CREATE INDEX messages_trigram ON messages USING gin (user_id, content gin_trgm_ops);
CREATE INDEX conversations_search ON conversations USING gin (user_id, search);
CREATE INDEX conversations_trigram ON conversations USING gin (user_id, title gin_trgm_ops);

-- A substring hit's snippet: up to 60 characters either side of the first place `needle`
-- appears (case aside), the match between the marks ts_headline uses for full-text hits
-- (U+E000, U+E001).
CREATE FUNCTION sluice_substring_snippet(t text, needle text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p = 0 THEN left(t, 120) ELSE
               CASE WHEN p > 61 THEN '…' ELSE '' END
               || substr(t, greatest(1, p - 60), least(p - 1, 60))
               || U&'\E000' || substr(t, p, length(needle)) || U&'\E001'
               || substr(t, p + length(needle), 60)
               || CASE WHEN p + length(needle) + 60 <= length(t) THEN '…' ELSE '' END
           END
    FROM (SELECT strpos(lower(t), lower(needle)) AS p) x
$$;
