//! Turn-taking for hot aggregates within one process.
//!
//! Some aggregates take a write from nearly every command of a kind: an invoice series takes
//! the next number of every document issued under it. Writers that race for such an aggregate
//! with optimistic concurrency mostly lose, load again and decide again, so a burst of them
//! costs far more than the same writes in a row. A [`Turns`] lets the writers in one process
//! queue for the aggregate instead, holding their turn only for the part that must be serial
//! (reading the aggregate, deciding, committing). Across processes nothing changes: the version
//! check at append still decides, and the loser decides again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// One queue per key, made on first use and kept (keys are few: one per series).
#[derive(Debug, Default)]
pub struct Turns {
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

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
