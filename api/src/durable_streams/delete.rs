//! `DELETE /v1/stream/{path}` (`PROTOCOL.md` §5.4): the stream goes at once (its data is
//! purged by the sweeper); while forks still read it, it is only hidden (410) until the
//! last of them goes.

use axum::http::StatusCode;
use uuid::Uuid;

use super::{
    Answer, Failure, Reply, removal,
    store::{self, Found},
};
use crate::state::AppState;

pub async fn delete(state: &AppState, owner: Uuid, path: &str) -> Answer {
    let mut tx = state.pool.begin().await?;
    let row = match store::classify(store::lock(&mut tx, owner, path).await?) {
        Found::Live(row) => row,
        Found::Gone(_) => return Err(Failure::gone()),
        Found::Absent(None) => return Err(Failure::not_found()),
        Found::Absent(Some(expired)) => {
            drop(tx);
            super::sweep::expire(state, owner, path, expired.id).await;
            return Err(Failure::not_found());
        }
    };
    removal::remove(&mut tx, row.id).await?;
    tx.commit().await?;
    state.durable.purge.notify_one();
    Reply::new(StatusCode::NO_CONTENT).done()
}
