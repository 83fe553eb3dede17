-- An answer's row is written four times: inserted queued, claimed (status, attempt), finished
-- (content, status, usage) and given its last stream sequence. Updates that change no indexed
-- column and fit on the row's page are HOT: no new index entries and far less bloat, which is
-- most of what those updates cost Postgres at hundreds of answers a second.
--
-- `messages_in_flight` indexed `status` (through its predicate), so every status change had to
-- write index entries. It served one query, the conversation stream's "answers in flight or
-- just finished", whose `OR completed_at > ...` the partial index cannot answer anyway: that
-- query reads the conversation's rows through `messages_conversation`.
DROP INDEX messages_in_flight;

-- Room on each page for the updated versions of its rows.
ALTER TABLE messages SET (fillfactor = 70);
