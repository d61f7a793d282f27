//! One-off background work started by a request (command a pile after answering, pull a catalog
//! after a partner registers): tracked, so shutdown can wait for what is under way, and a panic
//! in it is logged with its message instead of vanishing with a detached task.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone, Default)]
pub struct Background(TaskTracker);

impl Background {
    /// Runs `work` on its own task; `what` names it in the log should it panic.
    pub fn spawn(&self, what: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        self.0.spawn(async move {
            if let Err(panic) = AssertUnwindSafe(work).catch_unwind().await {
                let message = panic.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| panic.downcast_ref::<String>().cloned());
                tracing::error!(task = what, panic = message.as_deref().unwrap_or("a panic without a message"), "background task panicked");
            }
        });
    }

    /// Waits up to `limit` for the work under way; new work is still accepted meanwhile (late
    /// requests may start some). Returns whether everything finished.
    pub async fn wait(&self, limit: Duration) -> bool {
        self.0.close();
        let finished = tokio::time::timeout(limit, self.0.wait()).await.is_ok();
        self.0.reopen();
        if !finished {
            tracing::warn!(still_running = self.0.len(), "background tasks did not finish in time; leaving them");
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_does_not_stop_the_others_and_waiting_sees_them_end() {
        let background = Background::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        background.spawn("boom", async { panic!("bad input") });
        background.spawn("ok", async move {
            tx.send(()).unwrap();
        });
        assert!(background.wait(Duration::from_secs(30)).await);
        rx.await.unwrap();
    }
}
