-- Where a budget starts, and what `GET /api/limits` shows while no limit applies (and so no
-- budget is kept): what the stored answers say. Until now a budget made when a limit was set
-- started its requests-this-minute at 0, so a user who had sent a minute's worth just before
-- got that many more.

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

-- As before (migration 20261207000002), but a new budget starts from `sluice_used_by`: this
-- minute's requests too. Its in-flight count starts at 0: answers admitted while no limit
-- applied reserved nothing, and their ends give nothing back.
CREATE OR REPLACE FUNCTION sluice_admit(p_user uuid, p_key uuid, p_tokens bigint, p_cost numeric)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked integer;
    wanted integer := CASE WHEN p_key IS NULL THEN 1 ELSE 2 END;
BEGIN
    PERFORM 1 FROM budgets WHERE subject IN (p_user, p_key)
        ORDER BY (subject <> user_id), subject FOR UPDATE;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked < wanted THEN
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
