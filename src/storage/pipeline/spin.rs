//! Waiting for a credential check's answer without parking the worker thread.
//!
//! When the database runs on this machine, the answer comes within tens of microseconds, and
//! a worker asleep in `epoll_wait` must be woken by it, which costs both sides more than a few
//! polls. So a check yields to the worker's other tasks for a while instead of waiting: tokio
//! runs them, polls the sockets without blocking, and polls the answer again. On the
//! benchmark's two-core VM this took the cached page on PostgreSQL from a median of 0.745 to
//! 0.87 of the combined limit over alternating rounds (BENCHMARKS.md, issue 16, session 11).
//!
//! When the machine is short of CPU (other processes, or the database itself descheduled),
//! answers come late and polling only burns CPU that others need: after a check's spin ran
//! out, the next [`SKIP_AFTER_MISS`] checks wait as usual.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// How long a check keeps its worker from parking when the database is on this machine: a few
/// of its round trips there, so that a late answer costs at most this much CPU.
const SPIN: Duration = Duration::from_micros(250);

/// Checks that wait as usual after one whose spin ran out.
const SKIP_AFTER_MISS: u32 = 64;

/// How a pipeline's checks wait: with a budget of polling (zero: never), paused after a miss.
#[derive(Debug)]
pub(super) struct Spin {
    budget: Duration,
    /// Checks left to wait without polling, after the last miss.
    skip: AtomicU32,
}

impl Spin {
    /// How checks on the database of `config` wait: polling for up to [`SPIN`] when it is on
    /// this machine (the rule of the worker count), as usual otherwise: a remote round trip
    /// outlasts the spin.
    pub(super) fn for_database(config: &tokio_postgres::Config) -> Self {
        let on_this_machine = crate::storage::hosts_on_this_machine(config);
        Self::new(if on_this_machine {
            SPIN
        } else {
            Duration::ZERO
        })
    }

    /// Checks poll for up to `budget` (zero: they never do).
    fn new(budget: Duration) -> Self {
        Self {
            budget,
            skip: AtomicU32::new(0),
        }
    }

    /// Awaits `answer`, polling for up to the budget unless a recent check's spin ran out.
    pub(super) async fn wait<T>(&self, answer: impl Future<Output = T>) -> T {
        if !self.should_spin() {
            return answer.await;
        }
        let mut answer = std::pin::pin!(answer);
        let until = Instant::now() + self.budget;
        loop {
            if let Poll::Ready(value) = poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await {
                return value;
            }
            if Instant::now() >= until {
                self.missed();
                return answer.await;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Whether this check may poll: a budget, and no skip left from a miss (this takes one).
    fn should_spin(&self) -> bool {
        !self.budget.is_zero()
            && self
                .skip
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_err()
    }

    /// A check's spin ran out: the next checks wait as usual.
    fn missed(&self) {
        self.skip.store(SKIP_AFTER_MISS, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_database_on_this_machine_keeps_the_worker_from_parking() {
        let budget = |url: &str| Spin::for_database(&url.parse().unwrap()).budget;
        assert_eq!(budget("postgres://u@127.0.0.1:5432/w"), SPIN);
        assert_eq!(budget("postgres://u@localhost/w"), SPIN);
        assert_eq!(budget("postgres:///w?host=/var/run/postgresql"), SPIN);
        assert_eq!(budget("postgres://u@db.example:5432/w"), Duration::ZERO);
    }

    #[test]
    fn a_miss_pauses_the_polling_for_the_next_checks() {
        let spin = Spin::new(SPIN);
        assert!(spin.should_spin());
        spin.missed();
        for _ in 0..SKIP_AFTER_MISS {
            assert!(!spin.should_spin());
        }
        assert!(spin.should_spin());
        assert!(!Spin::new(Duration::ZERO).should_spin());
    }

    #[tokio::test]
    async fn an_answer_is_awaited_whether_it_comes_within_the_spin_or_after() {
        let spin = Spin::new(SPIN);
        let (sent, received) = tokio::sync::oneshot::channel();
        tokio::spawn(async move { sent.send(1).unwrap() });
        assert_eq!(spin.wait(received).await, Ok(1));
        assert!(spin.should_spin(), "an answer in time is no miss");

        let (sent, received) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            tokio::time::sleep(SPIN * 8).await;
            sent.send(2).unwrap();
        });
        let started = Instant::now();
        assert_eq!(spin.wait(received).await, Ok(2));
        assert!(started.elapsed() >= SPIN * 8);
        assert!(!spin.should_spin(), "a late answer is a miss");

        let (sent, received) = tokio::sync::oneshot::channel();
        tokio::spawn(async move { sent.send(3).unwrap() });
        assert_eq!(Spin::new(Duration::ZERO).wait(received).await, Ok(3));
    }
}
