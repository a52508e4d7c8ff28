//! Issuing in batches: every document waiting for its series' turn is numbered and committed
//! by whoever gets the turn, in one transaction.
//!
//! A series takes the next number of every document issued under it, so issues in one process
//! are serial (see [`crate::turns`]), and one at a time each costs a load of the series and a
//! commit. An issuer therefore puts its prepared document on the series' waiting list before
//! it queues for the turn. The holder of the turn takes the whole list, loads the series once,
//! numbers the documents in the order they came, and commits them together: each document with
//! its own command record and metadata, and its number's `NumberTaken` on the series, so the
//! series stays gapless (a number is committed with its document or not at all). Anyone whose
//! document was committed by another finds its outcome when its own turn comes. When the
//! batch cannot commit as a whole (another process took a number, a repeated command id), each
//! document is issued again on its own, as a single issuer would.

use berth_domain::series::NumberSeries;
use tokio::sync::oneshot;

use super::issue::{commit_alone, counted, stage, Issued, Prepared};
use super::Attempt;
use crate::store::EventStore;
use crate::unit_of_work::UnitOfWork;

/// At most this many documents in one commit.
const MAX_BATCH: usize = 64;

/// A document on a series' waiting list.
pub(super) struct Waiting {
    prepared: Box<Prepared>,
    reply: oneshot::Sender<Reply>,
}

/// What the holder of the turn did with a waiting document.
enum Reply {
    /// Issued, or refused.
    Done(Result<Issued, Attempt>),
    /// Not committed with the others: its issuer issues it on its own.
    Alone(Box<Prepared>),
}

/// Issues `prepared`, in a batch with whatever else waits for the same series.
pub(super) async fn issue(store: &EventStore, prepared: Prepared) -> Result<Issued, Attempt> {
    let key = prepared.series_key();
    let list = store.waiting::<Waiting>(&key);
    let (reply, mut answer) = oneshot::channel();
    lock(&list).push(Waiting { prepared: Box::new(prepared), reply });
    let _turn = store.turn(&key).await;
    // A holder before this one may have committed it already.
    if let Ok(reply) = answer.try_recv() {
        return finish(store, reply).await;
    }
    loop {
        let batch: Vec<Waiting> = {
            let mut waiting = lock(&list);
            let take = waiting.len().min(MAX_BATCH);
            waiting.drain(..take).collect()
        };
        if batch.is_empty() {
            // Ours was in an earlier batch of this turn.
            break;
        }
        run(store, batch).await;
        if let Ok(reply) = answer.try_recv() {
            return finish(store, reply).await;
        }
    }
    match answer.await {
        Ok(reply) => finish(store, reply).await,
        // The holder that took it was dropped before it answered: decide again.
        Err(_) => Err(Attempt::Lost),
    }
}

async fn finish(store: &EventStore, reply: Reply) -> Result<Issued, Attempt> {
    match reply {
        Reply::Done(result) => result,
        Reply::Alone(prepared) => alone(store, *prepared).await,
    }
}

/// Issues one document on its own (the turn held).
async fn alone(store: &EventStore, prepared: Prepared) -> Result<Issued, Attempt> {
    let mut series = store.load::<NumberSeries>(prepared.prefix.as_str()).await?;
    let (id, kind, metadata) = (prepared.id.clone(), prepared.kind, prepared.metadata.clone());
    let mut unit = UnitOfWork::new(store);
    let number = stage(&mut unit, prepared, &mut series).await?;
    commit_alone(store, unit, &id, kind, number, &metadata).await
}

/// Numbers and commits `batch` (the turn held), answering every document in it.
async fn run(store: &EventStore, batch: Vec<Waiting>) {
    if batch.len() == 1 {
        let Some(one) = batch.into_iter().next() else { return };
        let result = alone(store, *one.prepared).await;
        drop(one.reply.send(Reply::Done(result)));
        return;
    }
    let prefix = batch[0].prepared.prefix.clone();
    let mut series = match store.load::<NumberSeries>(prefix.as_str()).await {
        Ok(series) => series,
        Err(_) => {
            // Each issuer meets the failure (or not) on its own.
            for one in batch {
                drop(one.reply.send(Reply::Alone(one.prepared)));
            }
            return;
        }
    };
    let mut staged = Vec::with_capacity(batch.len());
    let mut kept = Vec::with_capacity(batch.len());
    for one in batch {
        // Kept whole for a retry alone: staging consumes what it decides with.
        let retry = Box::new((*one.prepared).clone());
        let (id, kind, metadata) =
            (one.prepared.id.clone(), one.prepared.kind, one.prepared.metadata.clone());
        let mut unit = UnitOfWork::new(store);
        match stage(&mut unit, *one.prepared, &mut series).await {
            Ok(number) => {
                staged.push((unit, metadata));
                kept.push((one.reply, retry, id, kind, number));
            }
            // Refused (a document already issued, a backdated one): its issuer's answer; the
            // series is as it was before it.
            Err(refused) => drop(one.reply.send(Reply::Done(Err(refused)))),
        }
    }
    match UnitOfWork::commit_together(&staged).await {
        Ok(outcomes) => {
            for ((reply, _, _, kind, number), outcome) in kept.into_iter().zip(outcomes) {
                counted(kind);
                let issued = Issued { number, version: outcome.version, duplicate: false };
                drop(reply.send(Reply::Done(Ok(issued))));
            }
        }
        // Whatever failed, failed for the whole batch: each document is tried again on its own,
        // which tells whose it was.
        Err(_) => {
            for (reply, retry, _, _, _) in kept {
                drop(reply.send(Reply::Alone(retry)));
            }
        }
    }
}

fn lock(list: &std::sync::Mutex<Vec<Waiting>>) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
    list.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
