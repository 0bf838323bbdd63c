//! A fixed set of threads that verify passwords, behind a bounded queue. Each argon2 run needs
//! ~19 MiB; allocated per run, the allocator kept it (measured on a debug build: 150 parallel
//! logins, of which 18 were checked two at a time, took the server from 14 to 330 MB, and ten
//! sequential ones added ~195 MB). Here each thread owns its argon2 memory and reuses it, so
//! checking costs about 19 MiB per thread, and a full queue refuses at once.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::Block;

use super::password::verify_password_in;

/// A verification, run with its thread's argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The queue was full (or the checker threads are gone): retry later.
#[derive(Debug)]
pub(super) struct Busy;

/// Sends verifications to the checker threads; they stop when the last handle is dropped.
#[derive(Debug)]
pub(super) struct PasswordCheckers {
    jobs: SyncSender<Job>,
}

impl PasswordCheckers {
    /// Starts `threads` checker threads with `queue` places for waiting verifications.
    pub(super) fn start(threads: usize, queue: usize) -> Self {
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let started = std::thread::Builder::new()
                .name(format!("wafcert-argon2-{i}"))
                .spawn(move || work(&receiver));
            if let Err(e) = started {
                tracing::error!(error = %e, "could not start a password checker thread");
            }
        }
        Self { jobs }
    }

    /// Whether `password` matches `stored`; with `None`, a hash of `dummy` is checked instead,
    /// so an unknown user costs the same time. [`Busy`] when the queue is full.
    pub(super) async fn verify(
        &self,
        password: String,
        stored: Option<String>,
        dummy: fn() -> Option<&'static str>,
    ) -> Result<bool, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let matches = match stored.as_deref() {
                Some(hash) => verify_password_in(&password, hash, memory),
                None => dummy().is_some_and(|hash| verify_password_in(&password, hash, memory)),
            };
            let _ = tx.send(matches);
        });
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) | TrySendError::Disconnected(_) => Busy,
        })?;
        rx.await.map_err(|_| Busy)
    }
}

/// One checker thread: runs jobs, all in the same argon2 memory, until every sender is gone.
fn work(receiver: &Mutex<Receiver<Job>>) {
    let mut memory = Vec::new();
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut memory),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_and_refuses_when_full() {
        let stored = crate::auth::hash_password("pw").unwrap();
        let checkers = Arc::new(PasswordCheckers::start(1, 1));
        assert!(
            checkers
                .verify("pw".to_owned(), Some(stored.clone()), || None)
                .await
                .unwrap()
        );
        assert!(
            !checkers
                .verify("x".to_owned(), None, || None)
                .await
                .unwrap()
        );
        // One running, one waiting: of eight at once, the others are refused.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (checkers, stored) = (Arc::clone(&checkers), stored.clone());
                tokio::spawn(async move {
                    checkers
                        .verify("pw".to_owned(), Some(stored), || None)
                        .await
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        assert!(results.iter().any(Result::is_err));
        assert!(results.iter().any(|r| matches!(r, Ok(true))));
    }
}
