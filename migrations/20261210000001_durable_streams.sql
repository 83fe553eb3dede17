-- Durable streams (the Durable Streams protocol at /v1/stream/{path}): one row per stream,
-- its bytes in JetStream (stream `{PREFIX}_DURABLE`, subject `{prefix}.durable.{id}`, one
-- message per append). The row holds everything an append changes, so one transaction (its
-- row lock) orders appends across API processes and keeps producers exactly-once.
-- A path is the owner's: two users may each have `/v1/stream/jobs`.
CREATE TABLE durable_streams (
    -- One per incarnation: a stream deleted and created again at the same path is another
    -- id, another subject, so nothing of the old one shows through.
    id                 uuid PRIMARY KEY,
    owner_id           uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    path               text        NOT NULL,
    -- As the creator sent it (echoed byte for byte); compared by media type.
    content_type       text        NOT NULL,
    -- Stream-TTL (seconds since the last read or write) or Stream-Expires-At; never both.
    ttl_secs           bigint,
    expires_at         timestamptz,
    last_access_at     timestamptz NOT NULL DEFAULT now(),
    -- The JetStream sequence of the last message a reader may see (offsets are made of it):
    -- 0 for an empty stream, the fork offset for a fork with nothing of its own yet.
    tail_seq           bigint      NOT NULL DEFAULT 0,
    -- The last message on this stream's own subject (0: none). A message above it was
    -- published by an append that never committed; the next append adopts it.
    own_last_seq       bigint      NOT NULL DEFAULT 0,
    closed             boolean     NOT NULL DEFAULT false,
    -- The producer (id, epoch, seq) whose request closed it: its retry is a duplicate.
    closed_by_producer text,
    closed_by_epoch    bigint,
    closed_by_seq      bigint,
    -- The last Stream-Seq, compared byte-wise (never by a collation).
    last_stream_seq    bytea,
    -- A fork reads its source's data up to fork_offset, then its own.
    forked_from        uuid REFERENCES durable_streams(id),
    forked_from_path   text,
    fork_offset        bigint,
    fork_sub_offset    bigint      NOT NULL DEFAULT 0,
    -- Forks reading this one: while any do, a delete only hides it (410) and keeps its data.
    ref_count          integer     NOT NULL DEFAULT 0,
    soft_deleted       boolean     NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_id, path)
);
CREATE INDEX durable_streams_forked_from ON durable_streams (forked_from)
    WHERE forked_from IS NOT NULL;
CREATE INDEX durable_streams_ttl ON durable_streams (last_access_at) WHERE ttl_secs IS NOT NULL;
CREATE INDEX durable_streams_expires ON durable_streams (expires_at)
    WHERE expires_at IS NOT NULL;

-- Idempotent producers: the highest sequence accepted per (stream, producer, epoch).
CREATE TABLE durable_stream_producers (
    stream_id   uuid   NOT NULL REFERENCES durable_streams(id) ON DELETE CASCADE,
    producer_id text   NOT NULL,
    epoch       bigint NOT NULL,
    last_seq    bigint NOT NULL,
    PRIMARY KEY (stream_id, producer_id)
);

-- Subjects whose rows are gone (deleted, expired, their owner deleted), for the sweeper to
-- purge from JetStream.
-- A create that publishes its first data queues its own purge for later (in a statement of
-- its own) and takes it back in its transaction: if that never commits, the data goes.
CREATE TABLE durable_stream_purges (
    stream_id  uuid        PRIMARY KEY,
    -- Purged from this time on.
    queued_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION sluice_durable_streams_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO durable_stream_purges (stream_id) SELECT g.id FROM gone g
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER durable_streams_gone AFTER DELETE ON durable_streams
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION sluice_durable_streams_gone();
