-- Email + password sign-in. `email` is stored normalized (trimmed, lower-case), so the UNIQUE
-- constraint from the first migration makes addresses case-insensitively unique.
-- The hash is an argon2id PHC string; NULL for accounts without a password (guests, OAuth).
ALTER TABLE users ADD COLUMN password_hash text;
