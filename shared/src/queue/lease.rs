//! Leasing a handed-off job (`crate::handoff`) in the statement that claims its answer: the
//! two steps of the worker's claim that touch the queue, as SQL fragments it splices in.
//!
//! The row is leased as apalis leaves a fetched and locked one (`Running`, `lock_by` the worker's
//! apalis name, `lock_at` now), so if the worker dies, apalis's own recovery re-runs the job
//! like any other. The worker must be registered in `apalis.workers`: recovery finds orphans by
//! joining on it, and a lease to an unknown name would never be recovered.

/// Step 1, before the claim: the handed-off rows still on offer, locked. Reads CTE `item`
/// (`job_id`, `worker`; NULL `job_id` for jobs the queue delivered); `$job_ids` is the
/// placeholder of the same job ids as a `text[]`, `$queue` that of the queue's name. Defines
/// `offered (id, worker)`. Ends with a comma.
///
/// An offer is not taken while older jobs wait in the queue (due rows `get_jobs` would fetch,
/// enqueued before it):
/// the worker declines it, the API queues it behind them, and the worker's freed slot fetches
/// the oldest. So jobs start in arrival order when every slot is busy. The check costs an index
/// probe, so it is made only where the item asks (`check_queue`: the worker was lately full).
#[macro_export]
macro_rules! queue_offered_rows {
    ($job_ids:literal, $queue:literal) => {
        concat!(
        "-- The handed-off rows, locked: a queue fetch (FOR UPDATE SKIP LOCKED) passes them by.
         -- Found by primary key alone: with `status = 'Pending'` here the planner also reads
         -- the queue's partial fetch index, which holds every job not yet vacuumed.
         locked AS (
             SELECT j.id, j.status, item.worker, item.check_queue
             FROM apalis.jobs j JOIN item ON item.job_id = j.id
             WHERE j.id = ANY(", $job_ids, ")
             FOR UPDATE OF j SKIP LOCKED),
         -- Still on offer (the locked version is the latest: one the queue took meanwhile is
         -- no longer `Pending`), and leasable to a registered worker.
         offered AS (
             SELECT id, worker FROM locked
             WHERE status = 'Pending'
               AND EXISTS (SELECT 1 FROM apalis.workers w WHERE w.id = locked.worker)
               -- Unless not asked to look: no older job waiting in the queue (`get_jobs`'s own
               -- condition, on its index; job ids are ULIDs, so a lower id was enqueued earlier).
               AND (NOT locked.check_queue OR NOT EXISTS (
                   SELECT 1 FROM apalis.jobs q
                   WHERE q.job_type = ", $queue, " AND q.run_at <= now() AND q.id < locked.id
                     AND (q.status = 'Pending'
                          OR (q.status = 'Failed' AND q.attempts < q.max_attempts))))),")
    };
}

/// Step 3, after the claim: leases the offered rows whose answers were claimed, and deletes
/// the offered rows whose answers were already over. Reads `offered` and CTE `claimed`
/// (`job_id`). Ends without a comma: the statement's SELECT follows.
#[macro_export]
macro_rules! queue_lease_claimed_rows {
    () => {
        "-- Leased as a fetch leaves a row, so a crash is recovered like a queued job's. Due
         -- now: on offer the row was not (so no fetch raced the offer), but once recovery
         -- makes it `Pending` again it must be fetched at once, not when the offer's margin ends.
         leased AS (
             UPDATE apalis.jobs j SET status = 'Running', lock_by = offered.worker,
                                      lock_at = now(), run_at = now()
             FROM offered
             WHERE j.id = offered.id AND j.id IN (SELECT job_id FROM claimed)),
         -- On offer, but the answer is already over: nothing will ever run it.
         spent_offer AS (
             DELETE FROM apalis.jobs
             WHERE id IN (SELECT id FROM offered)
               AND id NOT IN (SELECT job_id FROM claimed WHERE job_id IS NOT NULL))
         "
    };
}
