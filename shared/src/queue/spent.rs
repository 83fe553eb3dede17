//! Deleting the job of a stored answer, in the statement that stores it.

/// The answer is stored, so its queue row is spent: deleted here rather than left `Done` for
/// apalis's ack, which finds rows by scanning every row its worker holds (see `sweep`); the
/// ack then updates nothing. Reads CTE `finished` (`id`: answers this statement stored; only
/// attempts that still own their message, so a stale attempt never deletes the row of the
/// attempt that replaced it). `$queue` is the placeholder of the queue's name. Ends without
/// a comma: the statement's SELECT follows.
#[macro_export]
macro_rules! queue_delete_finished_jobs {
    ($queue:literal) => {
        concat!(
            "spent AS (
                 DELETE FROM apalis.jobs
                 WHERE job_type = ",
            $queue,
            " AND idempotency_key IN (SELECT id::text FROM finished))
             "
        )
    };
}
