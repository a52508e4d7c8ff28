//! Turn-taking for hot aggregates within one process.
//!
//! Some aggregates take a write from nearly every command of a kind: an invoice series takes
//! the next number of every document issued under it. Writers that race for such an aggregate
//! with optimistic concurrency mostly lose, load again and decide again, so a burst of them
//! costs far more than the same writes in a row. A [`Turns`] lets the writers in one process
//! queue for the aggregate instead, holding their turn only for the part that must be serial
//! (reading the aggregate, deciding, committing). Across processes nothing changes: the version
//! check at append still decides, and the loser decides again.
//!
//! A key may also have a waiting list: writers put what they want written on it before they
//! queue for the turn, and whoever gets the turn may write everything on the list at once (one
//! commit for many writers) and tell each writer its outcome.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// One queue per key, made on first use and kept (keys are few: one per series).
#[derive(Default)]
pub struct Turns {
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    lists: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queues = self.queues.lock().map(|q| q.len()).unwrap_or_default();
        f.debug_struct("Turns").field("keys", &queues).finish_non_exhaustive()
    }
}

/// The writes waiting for a key's turn.
pub type WaitingList<T> = Arc<Mutex<Vec<T>>>;

/// A turn: the holder writes the key's aggregate until it drops this.
pub type Turn = OwnedMutexGuard<()>;

impl Turns {
    /// Waits for the turn on `key` (first come, first served).
    pub async fn take(&self, key: &str) -> Turn {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(queues.entry(key.to_owned()).or_default())
        };
        queue.lock_owned().await
    }

    /// The waiting list of `key` for writes of type `T` (made on first use; one type per key).
    pub fn waiting<T: Send + 'static>(&self, key: &str) -> WaitingList<T> {
        let mut lists = self.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = lists.entry(key.to_owned()).or_insert_with(|| Arc::new(Mutex::new(Vec::<T>::new())));
        match Arc::clone(list).downcast::<Mutex<Vec<T>>>() {
            Ok(list) => list,
            // Another type under the same key: a list of its own, not shared.
            Err(_) => Arc::new(Mutex::new(Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_keys_apart() {
        let turns = Arc::new(Turns::default());
        let first = turns.take("series:BRT").await;
        // Another key is free meanwhile.
        drop(turns.take("series:CN").await);
        let waiting = tokio::spawn({
            let turns = Arc::clone(&turns);
            async move { turns.take("series:BRT").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second writer waits its turn");
        drop(first);
        drop(waiting.await.unwrap());
    }
}
