//! Where an answer's events end, recorded once its terminal event is published.

use sluice_shared::batch::Statement;
use sqlx::PgPool;
use uuid::Uuid;

pub(super) struct LastSeqs(pub(super) PgPool);

impl Statement for LastSeqs {
    type Item = (Uuid, i64);
    type Output = ();

    async fn run(&self, seqs: &[(Uuid, i64)]) -> sqlx::Result<Vec<()>> {
        let (ids, seqs): (Vec<Uuid>, Vec<i64>) = seqs.iter().copied().unzip();
        sqlx::query(
            "UPDATE messages m SET last_seq = u.seq
             FROM unnest($1::uuid[], $2::bigint[]) AS u(id, seq)
             WHERE m.id = ANY($1) AND m.id = u.id",
        )
        .bind(&ids)
        .bind(&seqs)
        .execute(&self.0)
        .await?;
        Ok(vec![(); ids.len()])
    }
}
