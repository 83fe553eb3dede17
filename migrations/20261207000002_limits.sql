-- Limits and budgets (issue 25, part 2), enforced in Postgres so they hold across API
-- replicas, inside the statement that stores a send (no extra round trip).
--
-- `limits`: per role (the defaults), per user (overrides: a NULL column inherits the roles'),
-- per API key (on top of its user's). NULL: no limit. A user's limit from roles is the most
-- generous of their roles' (a role without one means none).
--
-- `budgets`: one row per user and per API key, the counters of the current windows (UTC
-- minute, day, month) and the answers in flight. Every answer reserves an estimate when it is
-- stored (`sluice_admit`) and settles to its real usage when it ends (the trigger on
-- `messages`), whichever process ends it, exactly once: the status leaves queued/streaming
-- once. Budget rows are locked in one order everywhere — by user, the user's own row before
-- their keys' — so concurrent sends and settlements never deadlock.

CREATE TABLE limits (
    role                text REFERENCES roles(name) ON DELETE CASCADE,
    user_id             uuid REFERENCES users(id) ON DELETE CASCADE,
    api_key_id          uuid REFERENCES api_keys(id) ON DELETE CASCADE,
    requests_per_minute integer        CHECK (requests_per_minute >= 0),
    tokens_per_day      bigint         CHECK (tokens_per_day >= 0),
    cost_per_day_usd    numeric(14, 6) CHECK (cost_per_day_usd >= 0),
    cost_per_month_usd  numeric(14, 6) CHECK (cost_per_month_usd >= 0),
    concurrent_answers  integer        CHECK (concurrent_answers >= 0),
    updated_at          timestamptz    NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(role, user_id, api_key_id) = 1)
);
CREATE UNIQUE INDEX limits_role ON limits(role) WHERE role IS NOT NULL;
CREATE UNIQUE INDEX limits_user ON limits(user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX limits_key ON limits(api_key_id) WHERE api_key_id IS NOT NULL;

CREATE TABLE budgets (
    -- The user's id (their own counters) or one of their API keys' ids.
    subject          uuid PRIMARY KEY,
    -- No foreign key: deleting a user deletes these rows itself, after the user's messages
    -- (`auth::store::delete_user`), in the one lock order — a cascade could lock them before
    -- a message whose settlement holds it and waits for them.
    user_id          uuid           NOT NULL,
    minute_start     timestamptz    NOT NULL,
    minute_requests  integer        NOT NULL DEFAULT 0,
    day_start        timestamptz    NOT NULL,
    -- Used plus reserved, in the current day / month.
    day_tokens       bigint         NOT NULL DEFAULT 0,
    day_cost         numeric(14, 6) NOT NULL DEFAULT 0,
    month_start      timestamptz    NOT NULL,
    month_cost       numeric(14, 6) NOT NULL DEFAULT 0,
    in_flight        integer        NOT NULL DEFAULT 0
);

-- Each row is updated twice per answer (admitted, settled): room on its page for the new
-- versions keeps those updates HOT (no index entry each), and a vacuum every thousand dead
-- versions keeps the pages from filling with them.
ALTER TABLE budgets SET (fillfactor = 10, autovacuum_vacuum_scale_factor = 0,
                         autovacuum_vacuum_threshold = 1000);

-- What an answer reserved (NULL for questions, and answers stored before limits existed), and
-- the API key that asked for it.
ALTER TABLE messages ADD COLUMN api_key_id uuid;
ALTER TABLE messages ADD COLUMN reserved_tokens bigint;
ALTER TABLE messages ADD COLUMN reserved_cost numeric(14, 6);

-- The windows that contain `at` (UTC).
CREATE FUNCTION sluice_minute(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS $$ SELECT date_trunc('minute', at, 'UTC') $$;
CREATE FUNCTION sluice_day(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS $$ SELECT date_trunc('day', at, 'UTC') $$;
CREATE FUNCTION sluice_month(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE AS $$ SELECT date_trunc('month', at, 'UTC') $$;

-- The limits that apply to a send by `p_user` (through key `p_key`, if any): one row per
-- scope, `user` and `key`.
CREATE FUNCTION sluice_limits_of(p_user uuid, p_key uuid)
RETURNS TABLE (scope text, subject uuid, requests_per_minute integer, tokens_per_day bigint,
               cost_per_day_usd numeric, cost_per_month_usd numeric, concurrent_answers integer)
LANGUAGE sql STABLE AS $$
    WITH by_role AS (
        SELECT CASE WHEN bool_or(l.requests_per_minute IS NULL) THEN NULL
                    ELSE max(l.requests_per_minute) END AS requests_per_minute,
               CASE WHEN bool_or(l.tokens_per_day IS NULL) THEN NULL
                    ELSE max(l.tokens_per_day) END AS tokens_per_day,
               CASE WHEN bool_or(l.cost_per_day_usd IS NULL) THEN NULL
                    ELSE max(l.cost_per_day_usd) END AS cost_per_day_usd,
               CASE WHEN bool_or(l.cost_per_month_usd IS NULL) THEN NULL
                    ELSE max(l.cost_per_month_usd) END AS cost_per_month_usd,
               CASE WHEN bool_or(l.concurrent_answers IS NULL) THEN NULL
                    ELSE max(l.concurrent_answers) END AS concurrent_answers
        FROM user_roles ur LEFT JOIN limits l ON l.role = ur.role
        WHERE ur.user_id = p_user)
    SELECT 'user', p_user,
           COALESCE(u.requests_per_minute, r.requests_per_minute),
           COALESCE(u.tokens_per_day, r.tokens_per_day),
           COALESCE(u.cost_per_day_usd, r.cost_per_day_usd),
           COALESCE(u.cost_per_month_usd, r.cost_per_month_usd),
           COALESCE(u.concurrent_answers, r.concurrent_answers)
    FROM by_role r LEFT JOIN limits u ON u.user_id = p_user
    UNION ALL
    SELECT 'key', p_key, k.requests_per_minute, k.tokens_per_day, k.cost_per_day_usd,
           k.cost_per_month_usd, k.concurrent_answers
    FROM limits k WHERE p_key IS NOT NULL AND k.api_key_id = p_key
$$;

-- The counters of `subject` as of now: a window that has passed counts from zero.
CREATE FUNCTION sluice_budget_now(p_subject uuid)
RETURNS TABLE (minute_requests integer, day_tokens bigint, day_cost numeric,
               month_cost numeric, in_flight integer)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN b.minute_start = sluice_minute(now()) THEN b.minute_requests ELSE 0 END,
           CASE WHEN b.day_start = sluice_day(now()) THEN b.day_tokens ELSE 0 END,
           CASE WHEN b.day_start = sluice_day(now()) THEN b.day_cost ELSE 0 END,
           CASE WHEN b.month_start = sluice_month(now()) THEN b.month_cost ELSE 0 END,
           b.in_flight
    FROM (SELECT 1) one LEFT JOIN budgets b ON b.subject = p_subject
$$;

-- The first limit one more answer would break, NULL if none: {scope, limit, value, used,
-- reset_at}. Budgets (tokens, cost) admit while anything is left, so spend ends at most one
-- answer's estimate over; requests and concurrent answers admit while one more fits.
-- (plpgsql: its query is planned once per connection, not at every send.)
CREATE FUNCTION sluice_limit_refusal(p_user uuid, p_key uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('scope', l.scope, 'limit', c.name, 'value', c.value,
                              'used', c.used, 'reset_at', c.reset_at)
    FROM sluice_limits_of(p_user, p_key) l,
         LATERAL sluice_budget_now(l.subject) b,
         LATERAL (VALUES
             (1, 'concurrent_answers', l.concurrent_answers::numeric,
              COALESCE(b.in_flight, 0)::numeric, NULL::timestamptz,
              COALESCE(b.in_flight, 0) + 1 > l.concurrent_answers),
             (2, 'requests_per_minute', l.requests_per_minute::numeric,
              COALESCE(b.minute_requests, 0)::numeric, sluice_minute(now()) + interval '1 minute',
              COALESCE(b.minute_requests, 0) + 1 > l.requests_per_minute),
             (3, 'tokens_per_day', l.tokens_per_day::numeric, COALESCE(b.day_tokens, 0)::numeric,
              sluice_day(now()) + interval '1 day',
              COALESCE(b.day_tokens, 0) >= l.tokens_per_day),
             (4, 'cost_per_day_usd', l.cost_per_day_usd, COALESCE(b.day_cost, 0),
              sluice_day(now()) + interval '1 day',
              COALESCE(b.day_cost, 0) >= l.cost_per_day_usd),
             (5, 'cost_per_month_usd', l.cost_per_month_usd, COALESCE(b.month_cost, 0),
              sluice_month(now()) + interval '1 month',
              COALESCE(b.month_cost, 0) >= l.cost_per_month_usd)
         ) AS c(rank, name, value, used, reset_at, broken)
    WHERE c.broken
    ORDER BY l.scope DESC, c.rank
    LIMIT 1);
END
$$;

-- Admits one answer of `p_user` (sent with key `p_key`, or NULL) reserving `p_tokens` and
-- `p_cost`, or refuses it (false) and changes nothing. Locks the user's budget row, then the
-- key's; each statement in here sees what committed before it, so concurrent sends from any
-- API process count each other.
CREATE FUNCTION sluice_admit(p_user uuid, p_key uuid, p_tokens bigint, p_cost numeric)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked integer;
    wanted integer := CASE WHEN p_key IS NULL THEN 1 ELSE 2 END;
BEGIN
    PERFORM 1 FROM budgets WHERE subject IN (p_user, p_key)
        ORDER BY (subject <> user_id), subject FOR UPDATE;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked < wanted THEN
        -- A budget starts from what the stored answers say was used in its windows (limits
        -- may have just been set: `sluice_used_by`, migration 20261207000003), then counts on.
        -- Its in-flight count starts at 0: answers admitted while no limit applied reserved
        -- nothing, and their ends give nothing back.
        INSERT INTO budgets (subject, user_id, minute_start, day_start, month_start,
                             minute_requests, day_tokens, day_cost, month_cost)
        SELECT s, p_user, sluice_minute(now()), sluice_day(now()), sluice_month(now()),
               u.minute_requests, u.day_tokens, u.day_cost, u.month_cost
        FROM unnest(ARRAY[p_user, p_key]) s, LATERAL sluice_used_by(p_user, s) u
        WHERE s IS NOT NULL
        ORDER BY (s <> p_user), s
        ON CONFLICT (subject) DO NOTHING;
        PERFORM 1 FROM budgets WHERE subject IN (p_user, p_key)
            ORDER BY (subject <> user_id), subject FOR UPDATE;
    END IF;
    IF sluice_limit_refusal(p_user, p_key) IS NOT NULL THEN
        RETURN false;
    END IF;
    UPDATE budgets SET
        minute_requests = CASE WHEN minute_start = sluice_minute(now())
                               THEN minute_requests ELSE 0 END + 1,
        minute_start = sluice_minute(now()),
        day_tokens = CASE WHEN day_start = sluice_day(now()) THEN day_tokens ELSE 0 END + p_tokens,
        day_cost = CASE WHEN day_start = sluice_day(now()) THEN day_cost ELSE 0 END + p_cost,
        day_start = sluice_day(now()),
        month_cost = CASE WHEN month_start = sluice_month(now()) THEN month_cost ELSE 0 END + p_cost,
        month_start = sluice_month(now()),
        in_flight = in_flight + 1
    WHERE subject IN (p_user, p_key);
    RETURN true;
END
$$;

-- Admits one answer to conversation `p_conversation` with `p_new_tokens` tokens of new text
-- (`sluice_shared::estimate`) and `p_output_tokens` expected out, or refuses it (NULL). Its
-- reservation: the prompt — the conversation's latest answer's real prompt and answer (the
-- history it carried), plus the new text — and the expected output, priced per million
-- tokens. Returns {tokens, cost} reserved; `{}` when no limit applies to the send: then no
-- budget is kept at all (one left from when a limit did is dropped, so a limit set later
-- starts from the usage rollup, not from stale counters), and limits cost nothing.
CREATE FUNCTION sluice_reserve(p_user uuid, p_key uuid, p_conversation uuid, p_new_tokens integer,
                               p_output_tokens integer, p_price_in numeric, p_price_out numeric)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    prompt bigint;
    tokens bigint;
    cost numeric;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sluice_limits_of(p_user, p_key) l
                   WHERE num_nonnulls(l.requests_per_minute, l.tokens_per_day,
                                      l.cost_per_day_usd, l.cost_per_month_usd,
                                      l.concurrent_answers) > 0) THEN
        DELETE FROM budgets WHERE subject IN (p_user, p_key);
        RETURN '{}';
    END IF;
    SELECT COALESCE(m.input_tokens, 0) + COALESCE(m.output_tokens, 0) INTO prompt
    FROM messages m
    WHERE m.conversation_id = p_conversation AND m.role = 'assistant' AND m.status = 'done'
      AND m.superseded_at IS NULL
    ORDER BY m.created_at DESC, m.id DESC LIMIT 1;
    prompt := COALESCE(prompt, 0) + p_new_tokens;
    tokens := prompt + p_output_tokens;
    cost := round((prompt * p_price_in + p_output_tokens * p_price_out) / 1000000, 6);
    IF sluice_admit(p_user, p_key, tokens, cost) THEN
        RETURN jsonb_build_object('tokens', tokens, 'cost', cost);
    END IF;
    RETURN NULL;
END
$$;

-- Settles answers that ended (or were deleted unfinished): each gives back its reservation
-- and counts what it really used, in the windows it was reserved in (a window that has passed
-- is not touched again), and leaves the in-flight count. `ended`: (user, key, created_at,
-- reserved tokens and cost, real tokens and cost).
CREATE FUNCTION sluice_settle(ended jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Locked first, in the one order (a statement of its own: the update below then sees
    -- what committed before these locks were granted).
    PERFORM 1 FROM budgets b
        WHERE b.subject IN (SELECT (x->>'user_id')::uuid FROM jsonb_array_elements(ended) x
                            UNION
                            SELECT (x->>'api_key_id')::uuid FROM jsonb_array_elements(ended) x)
        ORDER BY b.user_id, (b.subject <> b.user_id), b.subject FOR UPDATE;
    WITH e AS (
        SELECT (x->>'user_id')::uuid AS user_id, (x->>'api_key_id')::uuid AS api_key_id,
               (x->>'created_at')::timestamptz AS created_at,
               (x->>'tokens')::bigint - (x->>'reserved_tokens')::bigint AS tokens,
               (x->>'cost')::numeric - (x->>'reserved_cost')::numeric AS cost
        FROM jsonb_array_elements(ended) x),
    by_subject AS (
        SELECT s.subject, count(*) AS answers,
               sum(e.tokens) FILTER (WHERE sluice_day(e.created_at) = sluice_day(now())) AS day_tokens,
               sum(e.cost) FILTER (WHERE sluice_day(e.created_at) = sluice_day(now())) AS day_cost,
               sum(e.cost) FILTER (WHERE sluice_month(e.created_at) = sluice_month(now())) AS month_cost
        FROM e, LATERAL (VALUES (e.user_id), (e.api_key_id)) s(subject)
        WHERE s.subject IS NOT NULL
        GROUP BY s.subject)
    UPDATE budgets b SET
        day_tokens = CASE WHEN b.day_start = sluice_day(now())
                          THEN b.day_tokens + COALESCE(s.day_tokens, 0) ELSE b.day_tokens END,
        day_cost = CASE WHEN b.day_start = sluice_day(now())
                        THEN b.day_cost + COALESCE(s.day_cost, 0) ELSE b.day_cost END,
        month_cost = CASE WHEN b.month_start = sluice_month(now())
                          THEN b.month_cost + COALESCE(s.month_cost, 0) ELSE b.month_cost END,
        in_flight = greatest(b.in_flight - s.answers, 0)
    FROM by_subject s
    WHERE b.subject = s.subject;
END
$$;

CREATE FUNCTION sluice_settle_ended() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ended jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_object(
               'user_id', n.user_id, 'api_key_id', n.api_key_id, 'created_at', n.created_at,
               'reserved_tokens', n.reserved_tokens, 'reserved_cost', n.reserved_cost,
               'tokens', COALESCE(n.input_tokens, 0) + COALESCE(n.output_tokens, 0),
               'cost', COALESCE(n.cost_usd, 0)))
    INTO ended
    FROM ended_rows n JOIN was_rows o ON o.id = n.id
    WHERE n.reserved_tokens IS NOT NULL
      AND o.status IN ('queued', 'streaming') AND n.status IN ('done', 'error', 'cancelled');
    IF ended IS NOT NULL THEN
        PERFORM sluice_settle(ended);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION sluice_settle_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ended jsonb;
BEGIN
    -- Deleted before it ended: the reservation goes back, nothing is counted as used.
    SELECT jsonb_agg(jsonb_build_object(
               'user_id', o.user_id, 'api_key_id', o.api_key_id, 'created_at', o.created_at,
               'reserved_tokens', o.reserved_tokens, 'reserved_cost', o.reserved_cost,
               'tokens', 0, 'cost', 0))
    INTO ended
    FROM was_rows o
    WHERE o.reserved_tokens IS NOT NULL AND o.status IN ('queued', 'streaming');
    IF ended IS NOT NULL THEN
        PERFORM sluice_settle(ended);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_settle_ended AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS was_rows NEW TABLE AS ended_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sluice_settle_ended();
CREATE TRIGGER messages_settle_deleted AFTER DELETE ON messages
    REFERENCING OLD TABLE AS was_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sluice_settle_deleted();
