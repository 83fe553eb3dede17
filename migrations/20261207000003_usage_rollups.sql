-- Usage you can see (issue 25, part 3): a rollup of every ended answer, by UTC quarter hour and
-- by UTC day (`grain`, of when it was asked), user, API key, model, provider and outcome, kept
-- by the statement that stores the answer (the settlement trigger below), so usage pages read a
-- few rows per bucket instead of scanning messages: a long range reads its whole days from day
-- rows and only its partial days' edges from quarter rows. The messages stay the truth: a test recomputes
-- every rollup from them (`sluice_usage_recomputed`). Deleting a conversation does not take
-- back its usage: it happened.
--
-- Latency and time to first token are kept as histograms: 64 buckets growing by 25 % from
-- 1 ms (bucket i holds values up to 1.25^i ms, ~21 minutes for the last), so percentiles of
-- any set of rows are the sum of their histograms, read to within 25 % (`usage::histogram`).

CREATE FUNCTION sluice_quarter(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc('hour', at, 'UTC')
           + interval '15 minutes' * floor(date_part('minute', at AT TIME ZONE 'UTC') / 15)
$$;

-- The histogram bucket (1-based, as Postgres arrays are) of a duration in milliseconds.
CREATE FUNCTION sluice_hist_bucket(ms integer) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN ms <= 1 THEN 1
                ELSE least(64, 1 + ceil(ln(ms) / ln(1.25))::integer) END
$$;

-- The histogram of durations already in buckets (`sluice_hist_bucket`; NULLs left out).
-- plpgsql, like the other functions called once per answer or per row below: Postgres 15
-- plans a SQL function's query at every call, plpgsql once per connection (measured: the
-- rollup of one answer took 1.1 ms as SQL functions, 0.27 ms as these).
CREATE FUNCTION sluice_hist_of(buckets integer[]) RETURNS integer[]
    LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    h integer[] := array_fill(0, ARRAY[64]);
    b integer;
BEGIN
    FOREACH b IN ARRAY buckets LOOP
        IF b IS NOT NULL THEN
            h[b] := h[b] + 1;
        END IF;
    END LOOP;
    RETURN h;
END
$$;

CREATE FUNCTION sluice_hist_add(a integer[], b integer[]) RETURNS integer[]
    LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    sum integer[] := array_fill(0, ARRAY[64]);
BEGIN
    FOR i IN 1..64 LOOP
        sum[i] := COALESCE(a[i], 0) + COALESCE(b[i], 0);
    END LOOP;
    RETURN sum;
END
$$;

-- sluice_hist_sum(h): the histogram of a set of histograms.
CREATE AGGREGATE sluice_hist_sum(integer[]) (
    SFUNC = sluice_hist_add, STYPE = integer[],
    INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'
);

CREATE TABLE usage_rollups (
    -- `quarter` (15 minutes) or `day`; every answer is in one row of each.
    grain          text           NOT NULL CHECK (grain IN ('quarter', 'day')),
    bucket_start   timestamptz    NOT NULL,
    -- No foreign key (as `budgets.user_id`): a settlement adding to a user's rows must not wait
    -- on the user's row, which an account deletion holds while it waits for that settlement's
    -- message. `auth::store::delete_user` deletes them.
    user_id        uuid           NOT NULL,
    api_key_id     uuid,
    model          text           NOT NULL,
    provider       text,
    -- done, cancelled or error (with its code).
    status         text           NOT NULL,
    error_code     text,
    requests       integer        NOT NULL,
    input_tokens   bigint         NOT NULL,
    output_tokens  bigint         NOT NULL,
    cost_usd       numeric(16, 6) NOT NULL,
    ttft_hist      integer[]      NOT NULL,
    latency_hist   integer[]      NOT NULL,
    UNIQUE NULLS NOT DISTINCT (user_id, grain, bucket_start, api_key_id, model, provider,
                               status, error_code)
);
-- The current quarter's and day's rows are updated by answer after answer: room for their new
-- versions on the page keeps those updates HOT, and frequent vacuums keep the pages clear (as
-- for `budgets`).
ALTER TABLE usage_rollups SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02,
                               autovacuum_vacuum_threshold = 1000);

-- The same for everyone together (admins' pages without a user or key filter): a few rows per
-- bucket whatever the number of users.
CREATE TABLE usage_rollups_all (
    grain          text           NOT NULL CHECK (grain IN ('quarter', 'day')),
    bucket_start   timestamptz    NOT NULL,
    model          text           NOT NULL,
    provider       text,
    status         text           NOT NULL,
    error_code     text,
    requests       integer        NOT NULL,
    input_tokens   bigint         NOT NULL,
    output_tokens  bigint         NOT NULL,
    cost_usd       numeric(16, 6) NOT NULL,
    ttft_hist      integer[]      NOT NULL,
    latency_hist   integer[]      NOT NULL,
    UNIQUE NULLS NOT DISTINCT (grain, bucket_start, model, provider, status, error_code)
);
ALTER TABLE usage_rollups_all SET (fillfactor = 10, autovacuum_vacuum_scale_factor = 0,
                                   autovacuum_vacuum_threshold = 1000);

-- What of an answer its usage and settlement need (not its text).
CREATE FUNCTION sluice_usage_fields(m messages) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'created_at', m.created_at, 'user_id', m.user_id, 'api_key_id', m.api_key_id,
        'model', m.model, 'provider', m.provider, 'status', m.status,
        'error_code', m.error_code, 'input_tokens', m.input_tokens,
        'output_tokens', m.output_tokens, 'cost_usd', m.cost_usd, 'ttft_ms', m.ttft_ms,
        'latency_ms', m.latency_ms, 'reserved_tokens', m.reserved_tokens,
        'reserved_cost', m.reserved_cost)
$$;

-- The rollup rows of a set of ended answers (`answers`: `sluice_usage_fields` of each).
CREATE FUNCTION sluice_usage_of(answers jsonb)
RETURNS TABLE (grain text, bucket_start timestamptz, user_id uuid, api_key_id uuid,
               model text, provider text, status text, error_code text, requests integer,
               input_tokens bigint, output_tokens bigint, cost_usd numeric,
               ttft_hist integer[], latency_hist integer[])
LANGUAGE sql STABLE AS $$
    SELECT g.grain,
           CASE g.grain WHEN 'quarter' THEN sluice_quarter(m.created_at)
                        ELSE date_trunc('day', m.created_at, 'UTC') END,
           m.user_id, m.api_key_id, COALESCE(m.model, ''),
           m.provider, m.status, m.error_code, count(*)::integer,
           COALESCE(sum(m.input_tokens), 0), COALESCE(sum(m.output_tokens), 0),
           COALESCE(sum(m.cost_usd), 0),
           sluice_hist_of(array_agg(sluice_hist_bucket(m.ttft_ms))),
           sluice_hist_of(array_agg(sluice_hist_bucket(m.latency_ms)))
    FROM jsonb_to_recordset(answers) AS m(created_at timestamptz, user_id uuid, api_key_id uuid,
         model text, provider text, status text, error_code text, input_tokens integer,
         output_tokens integer, cost_usd numeric, ttft_ms integer, latency_ms integer),
         (VALUES ('quarter'), ('day')) AS g(grain)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
$$;

-- Adds ended answers to both rollups, rows in key order (so concurrent settlements lock them
-- in one order).
CREATE FUNCTION sluice_roll_up(answers jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    rows usage_rollups[];
BEGIN
    SELECT array_agg(u::usage_rollups) INTO rows FROM sluice_usage_of(answers) u;
    INSERT INTO usage_rollups_all AS r
    SELECT u.grain, u.bucket_start, u.model, u.provider, u.status, u.error_code,
           sum(u.requests), sum(u.input_tokens), sum(u.output_tokens), sum(u.cost_usd),
           sluice_hist_sum(u.ttft_hist), sluice_hist_sum(u.latency_hist)
    FROM unnest(rows) u
    GROUP BY 1, 2, 3, 4, 5, 6
    ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (grain, bucket_start, model, provider, status, error_code)
    DO UPDATE SET requests = r.requests + excluded.requests,
                  input_tokens = r.input_tokens + excluded.input_tokens,
                  output_tokens = r.output_tokens + excluded.output_tokens,
                  cost_usd = r.cost_usd + excluded.cost_usd,
                  ttft_hist = sluice_hist_add(r.ttft_hist, excluded.ttft_hist),
                  latency_hist = sluice_hist_add(r.latency_hist, excluded.latency_hist);
    INSERT INTO usage_rollups AS r
    SELECT * FROM unnest(rows) u
    ORDER BY u.user_id, u.grain, u.bucket_start, u.api_key_id, u.model, u.provider, u.status,
             u.error_code
    ON CONFLICT (user_id, grain, bucket_start, api_key_id, model, provider, status, error_code)
    DO UPDATE SET requests = r.requests + excluded.requests,
                  input_tokens = r.input_tokens + excluded.input_tokens,
                  output_tokens = r.output_tokens + excluded.output_tokens,
                  cost_usd = r.cost_usd + excluded.cost_usd,
                  ttft_hist = sluice_hist_add(r.ttft_hist, excluded.ttft_hist),
                  latency_hist = sluice_hist_add(r.latency_hist, excluded.latency_hist);
END
$$;

-- The settlement trigger, now also rolling usage up: every answer that ended (whether it
-- reserved against budgets or not) is added once, as its status leaves queued/streaming.
CREATE OR REPLACE FUNCTION sluice_settle_ended() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ended jsonb;
    reserved jsonb;
BEGIN
    SELECT jsonb_agg(sluice_usage_fields(n)) INTO ended
    FROM ended_rows n JOIN was_rows o ON o.id = n.id
    WHERE n.role = 'assistant'
      AND o.status IN ('queued', 'streaming') AND n.status IN ('done', 'error', 'cancelled');
    IF ended IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT jsonb_agg(jsonb_build_object(
               'user_id', a->'user_id', 'api_key_id', a->'api_key_id',
               'created_at', a->'created_at', 'reserved_tokens', a->'reserved_tokens',
               'reserved_cost', a->'reserved_cost',
               'tokens', COALESCE((a->>'input_tokens')::bigint, 0)
                         + COALESCE((a->>'output_tokens')::bigint, 0),
               'cost', COALESCE((a->>'cost_usd')::numeric, 0)))
    INTO reserved
    FROM jsonb_array_elements(ended) a
    WHERE a->>'reserved_tokens' IS NOT NULL;
    IF reserved IS NOT NULL THEN
        PERFORM sluice_settle(reserved);
    END IF;
    PERFORM sluice_roll_up(ended);
    RETURN NULL;
END
$$;

-- What the rollup would be if built from the messages alone (for the test that checks it: it
-- holds every answer in memory at once).
CREATE FUNCTION sluice_usage_recomputed()
RETURNS TABLE (grain text, bucket_start timestamptz, user_id uuid, api_key_id uuid,
               model text, provider text, status text, error_code text, requests integer,
               input_tokens bigint, output_tokens bigint, cost_usd numeric,
               ttft_hist integer[], latency_hist integer[])
LANGUAGE sql STABLE AS $$
    SELECT * FROM sluice_usage_of((
        SELECT COALESCE(jsonb_agg(sluice_usage_fields(m)), '[]') FROM messages m
        WHERE m.role = 'assistant' AND m.status IN ('done', 'error', 'cancelled')))
$$;

-- Answers that ended before this migration, an hour of them at a time (one array of every
-- answer would outgrow what a jsonb value may hold).
DO $$
DECLARE
    hour timestamptz;
BEGIN
    FOR hour IN SELECT DISTINCT date_trunc('hour', m.created_at, 'UTC') FROM messages m
                WHERE m.role = 'assistant' AND m.status IN ('done', 'error', 'cancelled')
                ORDER BY 1 LOOP
        PERFORM sluice_roll_up(COALESCE(jsonb_agg(sluice_usage_fields(m)), '[]'))
        FROM messages m
        WHERE m.role = 'assistant' AND m.status IN ('done', 'error', 'cancelled')
          AND m.created_at >= hour AND m.created_at < hour + interval '1 hour';
    END LOOP;
END
$$;

-- What `p_subject` (user `p_user`, or one of their API keys) has used in the current windows,
-- from the stored answers: the usage rollup for today and this month (answers that ended),
-- and the answers asked this minute and still being written. Answers are written within
-- minutes: one older than a day still marked as being written is a stuck row, not counted.
CREATE FUNCTION sluice_used_by(p_user uuid, p_subject uuid)
RETURNS TABLE (minute_requests integer, day_tokens bigint, day_cost numeric,
               month_cost numeric, in_flight integer)
LANGUAGE sql STABLE AS $$
    SELECT a.minute, r.day_tokens, r.day_cost, r.month_cost, a.in_flight
    FROM (SELECT COALESCE(sum(u.input_tokens + u.output_tokens)
                              FILTER (WHERE u.bucket_start = sluice_day(now())), 0)::int8
                     AS day_tokens,
                 COALESCE(sum(u.cost_usd) FILTER (WHERE u.bucket_start = sluice_day(now())), 0)
                     AS day_cost,
                 COALESCE(sum(u.cost_usd), 0) AS month_cost
          FROM usage_rollups u
          WHERE u.user_id = p_user AND u.grain = 'day'
            AND u.bucket_start >= sluice_month(now())
            AND (p_subject = p_user OR u.api_key_id = p_subject)) r,
         (SELECT count(*) FILTER (WHERE m.created_at >= sluice_minute(now()))::int4 AS minute,
                 count(*) FILTER (WHERE m.status IN ('queued', 'streaming'))::int4 AS in_flight
          FROM conversations c
          JOIN messages m ON m.conversation_id = c.id AND m.role = 'assistant'
                         AND m.created_at >= now() - interval '1 day'
          WHERE c.user_id = p_user AND (p_subject = p_user OR m.api_key_id = p_subject)) a
$$;
