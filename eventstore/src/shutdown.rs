//! Waiting that gives way to shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Sleeps for `duration`, or less if `shutdown` fires first.
pub async fn pause(shutdown: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}
