-- Imported messages (`POST /api/import`): answers written elsewhere, by another server or
-- another app. They are history, not this server's spending: the settlement trigger never
-- sees them (they are inserted already ended), and the checks that rebuild usage from the
-- messages leave them out too.
ALTER TABLE messages ADD COLUMN imported boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION sluice_usage_recomputed()
RETURNS TABLE (grain text, bucket_start timestamptz, user_id uuid, api_key_id uuid,
               model text, provider text, status text, error_code text, requests integer,
               input_tokens bigint, output_tokens bigint, cost_usd numeric,
               ttft_hist integer[], latency_hist integer[])
LANGUAGE sql STABLE AS $$
    SELECT * FROM sluice_usage_of((
        SELECT COALESCE(jsonb_agg(sluice_usage_fields(m)), '[]') FROM messages m
        WHERE m.role = 'assistant' AND m.status IN ('done', 'error', 'cancelled')
          AND NOT m.imported))
$$;

CREATE OR REPLACE FUNCTION sluice_used_by(p_user uuid, p_subject uuid)
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
                         AND m.created_at >= now() - interval '1 day' AND NOT m.imported
          WHERE c.user_id = p_user AND (p_subject = p_user OR m.api_key_id = p_subject)) a
$$;
