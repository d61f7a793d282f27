//! Supervision of background loops: each runs under a name; a loop that panics is logged with
//! its panic message and started again after a backoff (doubling up to a ceiling), so a bug in one
//! item never silently ends a worker for the life of the process. All loops share one
//! cancellation token, see it between items, and `shutdown` waits for them to finish the item in
//! hand.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Backoff before restarting a loop that panicked.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_secs(1), max: Duration::from_secs(60) }
    }
}

#[derive(Clone)]
pub struct Supervisor {
    tasks: TaskTracker,
    token: CancellationToken,
    backoff: Backoff,
}

impl Supervisor {
    pub fn new(token: CancellationToken, backoff: Backoff) -> Self {
        Self { tasks: TaskTracker::new(), token, backoff }
    }

    /// The token every supervised loop watches.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Runs the loop `start` makes, and makes a new one after each panic. A loop that returns
    /// (it saw the token) is done.
    pub fn supervise<F, Fut>(&self, name: &'static str, start: F)
    where
        F: Fn(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (token, backoff) = (self.token.clone(), self.backoff);
        self.tasks.spawn(async move {
            let mut delay = backoff.first;
            loop {
                let started = tokio::time::Instant::now();
                let Err(panic) = AssertUnwindSafe(start(token.clone())).catch_unwind().await else { return };
                if token.is_cancelled() {
                    tracing::error!(worker = name, panic = %panic_message(&*panic), "background worker panicked while stopping");
                    return;
                }
                // A loop that ran well for a long time before panicking starts again promptly.
                if started.elapsed() > backoff.max {
                    delay = backoff.first;
                }
                tracing::error!(worker = name, panic = %panic_message(&*panic), restart_in_ms = delay.as_millis() as u64, "background worker panicked; restarting it");
                if token.run_until_cancelled(tokio::time::sleep(delay)).await.is_none() {
                    return;
                }
                delay = (delay * 2).min(backoff.max);
            }
        });
    }

    /// Cancels the token and waits up to `limit` for every loop to finish its current item.
    /// Returns whether they all did.
    pub async fn shutdown(&self, limit: Duration) -> bool {
        self.token.cancel();
        self.tasks.close();
        let finished = tokio::time::timeout(limit, self.tasks.wait()).await.is_ok();
        if !finished {
            tracing::warn!(still_running = self.tasks.len(), "background workers did not finish in time; leaving them");
        }
        finished
    }
}

/// Runs `item` at every tick of `tick` until the token is cancelled; an item under way when it
/// is finishes first.
pub async fn every<F, Fut>(token: &CancellationToken, mut tick: tokio::time::Interval, mut item: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    while token.run_until_cancelled(tick.tick()).await.is_some() {
        item().await;
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Log lines written while a test runs.
    #[derive(Clone, Default)]
    struct Captured(Arc<parking_lot::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock()).into_owned()
        }
    }

    #[tokio::test]
    async fn a_loop_that_panics_is_logged_and_started_again_and_stops_on_the_token() {
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let supervisor = Supervisor::new(CancellationToken::new(), Backoff { first: Duration::from_millis(1), max: Duration::from_millis(5) });
        let (starts, items) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, i) = (starts.clone(), items.clone());
        supervisor.supervise("flaky", move |token| {
            let (starts, items) = (s.clone(), i.clone());
            async move {
                // The first two runs meet a bad item; the third works until stopped.
                if starts.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("bad item {}", starts.load(Ordering::SeqCst));
                }
                every(&token, tokio::time::interval(Duration::from_millis(1)), || async {
                    items.fetch_add(1, Ordering::SeqCst);
                })
                .await;
            }
        });
        for _ in 0..10_000 {
            if items.load(Ordering::SeqCst) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(starts.load(Ordering::SeqCst), 3, "started again after each panic");
        assert!(items.load(Ordering::SeqCst) >= 3, "the restarted loop does its work");
        assert!(supervisor.shutdown(Duration::from_secs(30)).await, "the loop ends on the token");

        let text = log.text();
        assert!(text.contains("background worker panicked; restarting it"), "{text}");
        assert!(text.contains("worker=\"flaky\"") || text.contains("worker=flaky"), "{text}");
        assert!(text.contains("bad item 1") && text.contains("bad item 2"), "{text}");
    }

    #[tokio::test]
    async fn shutdown_lets_the_item_in_hand_finish() {
        let supervisor = Supervisor::new(CancellationToken::new(), Backoff::default());
        let (release, held) = (Arc::new(tokio::sync::Notify::new()), Arc::new(AtomicUsize::new(0)));
        let finished = Arc::new(AtomicUsize::new(0));
        let (r, h, f) = (release.clone(), held.clone(), finished.clone());
        supervisor.supervise("slow", move |token| {
            let (release, held, finished) = (r.clone(), h.clone(), f.clone());
            async move {
                every(&token, tokio::time::interval(Duration::from_millis(1)), || async {
                    held.fetch_add(1, Ordering::SeqCst);
                    release.notified().await;
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .await;
            }
        });
        while held.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let stopping = tokio::spawn({
            let supervisor = supervisor.clone();
            async move { supervisor.shutdown(Duration::from_secs(30)).await }
        });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!stopping.is_finished(), "shutdown waits for the item in hand");
        release.notify_one();
        assert!(stopping.await.unwrap(), "the loop ended after its item");
        assert_eq!((held.load(Ordering::SeqCst), finished.load(Ordering::SeqCst)), (1, 1), "no new item after the token");
    }
}
