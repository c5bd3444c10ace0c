//! Running independent hook tools at once.
//!
//! Every hook tool is a process, and on a charm with many relations starting them is most
//! of a hook's time. Juju's unit agent serves each tool connection on its own goroutine and
//! runs one command at a time under a lock (`Jujuc.Main` in juju's
//! `worker/uniter/runner/jujuc/server.go`: "A single command is run at a time"), so tools
//! started concurrently still run atomically, one after the other, against the hook's
//! context; what overlaps is the cost of starting them. Only calls whose order does not
//! matter may go through [`concurrently`]: reads, or writes to different databags.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many tool processes [`concurrently`] keeps in flight: two per CPU (a tool spends part
/// of its life waiting on the agent, which runs one at a time), between 4 and 16.
pub fn concurrency() -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    (2 * cpus).clamp(4, 16)
}

/// `f` on every item, up to [`concurrency`] at a time; the results in item order.
///
/// A panic in `f` is resumed in the caller once the other workers have stopped.
pub fn concurrently<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let workers = concurrency().min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    // Every index below `items.len()` was taken by exactly one worker, and all joined.
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

    use super::*;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    #[test]
    fn results_come_in_item_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = concurrently(&items, |i| i * 2);
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(concurrently(&[] as &[u32], |i| *i).is_empty());
        assert_eq!(concurrently(&[7], |i| i + 1), vec![8]);
    }

    #[test]
    fn calls_overlap() {
        // The first call waits (up to a minute) for a second one to start: run one after
        // the other, the first would see only itself in flight.
        let in_flight = Mutex::new(0usize);
        let changed = Condvar::new();
        let seen = concurrently(&[0, 1], |_| {
            let mut n = in_flight.lock().unwrap();
            *n += 1;
            changed.notify_all();
            let (n, _) = changed
                .wait_timeout_while(n, Duration::from_secs(60), |n| *n < 2)
                .unwrap();
            *n
        });
        assert_eq!(seen, vec![2, 2]);
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_reaches_the_caller() {
        concurrently(&[1, 2, 3, 4], |i| {
            if *i == 3 {
                panic!("boom");
            }
            *i
        });
    }
}
