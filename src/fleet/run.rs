//! The run of a fleet: each target checked by a task, at most `--jobs` at once and at most
//! `--per-host` per host, each within its deadline, each outcome handed to every output as it
//! finishes. The target file is read only as fast as the checks take targets, so the run
//! holds at most a few times `--jobs` targets, however long the file.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use super::targets::{FleetTarget, TargetsError};
use crate::report::fleet::{FleetSink, TargetError, TargetOutcome};

/// How a fleet run may load the machine and the servers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Checks at once, over all hosts.
    pub jobs: usize,
    /// Checks at once of one host (by name as the target gives it, case aside).
    pub per_host: usize,
    /// From a check's start: past it, the target is an error and its connections are dropped.
    pub target_timeout: Option<Duration>,
}

impl Limits {
    /// `--jobs` unset: four checks per core (a check mostly waits on the network), at most 64.
    pub fn default_jobs() -> usize {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (cores * 4).clamp(4, 64)
    }
}

/// How many targets may be read ahead of the checks, per job: enough that a run of targets on
/// one busy host does not leave jobs idle, few enough that memory stays flat.
const READ_AHEAD_PER_JOB: usize = 4;

/// What the check of one target gave: its report, what stopped it, and the exit code `check`
/// alone would have given.
pub struct TargetCheck {
    pub report: Option<serde_json::Value>,
    pub error: Option<TargetError>,
    pub exit: u8,
    /// Where its recording went (--record DIR).
    pub recording: Option<String>,
}

impl TargetCheck {
    /// A target that could not be checked at all.
    pub fn failed(exit: u8, message: impl Into<String>) -> TargetCheck {
        TargetCheck {
            report: None,
            error: Some(TargetError {
                exit,
                message: message.into(),
            }),
            exit,
            recording: None,
        }
    }

    /// A target whose check did not end within `deadline` (--target-timeout).
    pub fn past_deadline(deadline: Duration) -> TargetCheck {
        TargetCheck::failed(
            crate::exit::CONNECT,
            format!(
                "no result within {} s (--target-timeout): its connections were dropped",
                deadline.as_secs_f64()
            ),
        )
    }
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct RunEnd {
    /// Targets checked or failed (each had one outcome).
    pub targets: usize,
    /// Targets with an error.
    pub failed: usize,
    /// The worst exit code of the targets (README "Exit codes").
    pub worst_exit: u8,
    /// The target file's bad line, if reading stopped at one (the targets before it ran).
    pub input_error: Option<TargetsError>,
}

enum Message {
    /// With the target's admission: given back once the outputs have it, so that a slow
    /// output (a blocked stdout) holds up the reading, not a queue of outcomes.
    Done(TargetOutcome, u8, tokio::sync::OwnedSemaphorePermit),
    BadInput(TargetsError),
    /// A target's check began: its line, and the target as shown.
    Started(usize, String),
    /// The file was read to its end: this many targets.
    Total(usize),
}

/// Checks every target of `targets` with `check`, within `limits`, and tells each of `sinks`
/// of every outcome as it comes, then of the end. A sink's write error ends the run (stdout
/// closed: nobody reads the rest).
pub async fn run<I, C, F>(
    targets: I,
    limits: Limits,
    check: C,
    sinks: &mut [Box<dyn FleetSink>],
) -> std::io::Result<RunEnd>
where
    I: Iterator<Item = Result<FleetTarget, TargetsError>> + Send + 'static,
    C: Fn(FleetTarget) -> F + Send + Sync + 'static,
    F: Future<Output = TargetCheck> + Send + 'static,
{
    let jobs = limits.jobs.max(1);
    let admission = Arc::new(Semaphore::new(jobs * READ_AHEAD_PER_JOB));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        jobs: Semaphore::new(jobs),
        hosts: Hosts::new(limits.per_host.max(1)),
        check,
        timeout: limits.target_timeout,
        events: tx.clone(),
    });
    let handle = tokio::runtime::Handle::current();
    let reader_admission = admission.clone();
    // The file is read on a thread of its own: standard input may block for as long as the
    // producer likes, and the checks and outputs go on meanwhile.
    std::thread::spawn(move || {
        let mut read = 0;
        for item in targets {
            let target = match item {
                Ok(t) => t,
                Err(e) => {
                    let _ = tx.send(Message::BadInput(e));
                    return;
                }
            };
            // Closed when the run stops early: read no more.
            let Ok(permit) = handle.block_on(reader_admission.clone().acquire_owned()) else {
                return;
            };
            read += 1;
            let tx = tx.clone();
            let shared = shared.clone();
            handle.spawn(async move {
                let (outcome, exit) = shared.check_one(target).await;
                let _ = tx.send(Message::Done(outcome, exit, permit));
            });
        }
        let _ = tx.send(Message::Total(read));
    });
    let mut end = RunEnd::default();
    while let Some(message) = rx.recv().await {
        match message {
            Message::Done(outcome, exit, _admission) => {
                end.targets += 1;
                end.failed += usize::from(outcome.error.is_some());
                end.worst_exit = end.worst_exit.max(exit);
                if let Err(e) = sinks.iter_mut().try_for_each(|s| s.add(&outcome)) {
                    admission.close();
                    return Err(e);
                }
            }
            Message::BadInput(e) => end.input_error = Some(e),
            Message::Started(line, target) => {
                sinks.iter_mut().for_each(|s| s.started(line, &target))
            }
            Message::Total(n) => sinks.iter_mut().for_each(|s| s.total(n)),
        }
    }
    for sink in sinks.iter_mut() {
        sink.finish()?;
    }
    Ok(end)
}

/// What every target's task shares.
struct Shared<C> {
    jobs: Semaphore,
    hosts: Hosts,
    check: C,
    timeout: Option<Duration>,
    /// Where a check's start is told (the progress bar's "in flight").
    events: mpsc::UnboundedSender<Message>,
}

impl<C, F> Shared<C>
where
    C: Fn(FleetTarget) -> F,
    F: Future<Output = TargetCheck> + Send + 'static,
{
    async fn check_one(&self, target: FleetTarget) -> (TargetOutcome, u8) {
        let host = target.target.host.to_ascii_lowercase();
        let host_slot = self.hosts.slot(&host);
        let (shown, line) = (target.shown.clone(), target.line);
        let (result, elapsed) = {
            let _host_permit = host_slot.acquire().await;
            let _job_permit = self.jobs.acquire().await;
            let start = Instant::now();
            let _ = self.events.send(Message::Started(line, shown.clone()));
            // A task of its own: a check that panics is that target's error, not the run's end.
            let task = AbortOnDrop(tokio::spawn((self.check)(target)));
            let result = match self.timeout {
                Some(deadline) => tokio::time::timeout(deadline, task)
                    .await
                    .unwrap_or_else(|_| Ok(TargetCheck::past_deadline(deadline))),
                None => task.await,
            };
            (result, start.elapsed())
        };
        self.hosts.release(&host, host_slot);
        let checked = result.unwrap_or_else(|e| {
            TargetCheck::failed(crate::exit::USAGE, format!("the check failed: {e}"))
        });
        let outcome = TargetOutcome {
            target: shown,
            line,
            report: checked.report,
            error: checked.error,
            elapsed,
            recording: checked.recording,
        };
        (outcome, checked.exit)
    }
}

/// A spawned check, aborted (its connections closed) when dropped: past the deadline.
struct AbortOnDrop(tokio::task::JoinHandle<TargetCheck>);

impl Future for AbortOnDrop {
    type Output = Result<TargetCheck, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A semaphore per host with a check running or waiting, dropped when the last one ends (the
/// map holds the hosts in flight, not every host seen).
struct Hosts {
    per_host: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Hosts {
    fn new(per_host: usize) -> Hosts {
        Hosts {
            per_host,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, host: &str) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }

    fn release(&self, host: &str, slot: Arc<Semaphore>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        drop(slot);
        // Only the map's own reference left: no check of this host runs or waits.
        if slots.get(host).is_some_and(|s| Arc::strong_count(s) == 1) {
            slots.remove(host);
        }
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.slots.lock().map_or(0, |s| s.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::targets::{Shard, Targets};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Keeps every outcome (a test's sink: the real ones keep nothing).
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<TargetOutcome>>>, Arc<AtomicUsize>);

    impl FleetSink for Kept {
        fn add(&mut self, o: &TargetOutcome) -> std::io::Result<()> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .push(o.clone());
            Ok(())
        }
        fn finish(&mut self) -> std::io::Result<()> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn targets(text: &str) -> Targets<std::io::Cursor<Vec<u8>>> {
        Targets::new(
            std::io::Cursor::new(text.as_bytes().to_vec()),
            "t",
            Shard::ALL,
        )
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The most checks that ran at once, over all and per host `a`, with checks that take
    /// `ms` each.
    fn peaks(text: &str, limits: Limits, ms: u64) -> (usize, usize, Vec<TargetOutcome>) {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let now_a = Arc::new(AtomicUsize::new(0));
        let peak_a = Arc::new(AtomicUsize::new(0));
        let counters = (now.clone(), peak.clone(), now_a.clone(), peak_a.clone());
        let check = move |t: FleetTarget| {
            let (now, peak, now_a, peak_a) = counters.clone();
            async move {
                let on_a = t.target.host == "a";
                peak.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                if on_a {
                    peak_a.fetch_max(now_a.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(ms)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                if on_a {
                    now_a.fetch_sub(1, Ordering::SeqCst);
                }
                TargetCheck {
                    report: Some(serde_json::json!({ "host": t.target.host })),
                    error: None,
                    exit: u8::from(t.line.is_multiple_of(7)),
                    recording: None,
                }
            }
        };
        let kept = Kept::default();
        let mut sinks: Vec<Box<dyn FleetSink>> = vec![Box::new(kept.clone())];
        let end = rt()
            .block_on(run(targets(text), limits, check, &mut sinks))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.1.load(Ordering::SeqCst), 1, "finish once");
        let outcomes = kept.0.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(end.targets, outcomes.len());
        let worst = outcomes.iter().any(|o| o.line.is_multiple_of(7));
        assert_eq!(end.worst_exit, u8::from(worst));
        (
            peak.load(Ordering::SeqCst),
            peak_a.load(Ordering::SeqCst),
            outcomes,
        )
    }

    #[test]
    fn jobs_and_per_host_bound_the_checks_at_once_and_every_target_has_one_outcome() {
        let mut text = String::new();
        for i in 0..40 {
            let host = if i % 2 == 0 { "a" } else { "b" };
            text.push_str(&format!("pop3://{host}:{}\n", 1000 + i));
        }
        let limits = Limits {
            jobs: 3,
            per_host: 1,
            target_timeout: None,
        };
        let (peak, peak_a, outcomes) = peaks(&text, limits, 20);
        assert_eq!(peak_a, 1);
        assert!(peak <= 2, "{peak}: per-host 1 over two hosts");
        let mut lines: Vec<usize> = outcomes.iter().map(|o| o.line).collect();
        lines.sort_unstable();
        assert_eq!(lines, (1..=40).collect::<Vec<_>>());
        let limits = Limits {
            jobs: 5,
            per_host: 100,
            target_timeout: None,
        };
        let (peak, peak_a, _) = peaks(&text, limits, 20);
        assert_eq!(peak, 5, "all jobs used");
        assert!(peak_a > 1);
    }

    #[test]
    fn a_target_past_its_deadline_or_whose_check_panics_is_an_error_outcome() {
        let check = |t: FleetTarget| async move {
            match t.target.port {
                Some(1) => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    TargetCheck::failed(0, "never")
                }
                Some(2) => panic!("a bug in one check"),
                _ => TargetCheck {
                    report: Some(serde_json::json!({})),
                    error: None,
                    exit: 0,
                    recording: None,
                },
            }
        };
        let kept = Kept::default();
        let mut sinks: Vec<Box<dyn FleetSink>> = vec![Box::new(kept.clone())];
        let limits = Limits {
            jobs: 4,
            per_host: 4,
            target_timeout: Some(Duration::from_millis(300)),
        };
        let start = Instant::now();
        let end = rt()
            .block_on(run(targets("h:1\nh:2\nh:3\n"), limits, check, &mut sinks))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!((end.targets, end.failed), (3, 2));
        assert_eq!(end.worst_exit, crate::exit::CONNECT);
        let outcomes = kept.0.lock().map(|v| v.clone()).unwrap_or_default();
        let by_line = |l| outcomes.iter().find(|o| o.line == l);
        let late = by_line(1).and_then(|o| o.error.clone());
        assert!(late.is_some_and(|e| e.message.contains("--target-timeout") && e.exit == 3));
        assert!(by_line(1).is_some_and(|o| o.elapsed < Duration::from_secs(2)));
        assert!(
            by_line(2)
                .and_then(|o| o.error.clone())
                .is_some_and(|e| e.message.contains("panic"))
        );
        assert!(by_line(3).is_some_and(|o| o.error.is_none() && o.report.is_some()));
    }

    #[test]
    fn a_bad_line_stops_the_reading_after_the_targets_before_it_ran() {
        let check = |_t: FleetTarget| async { TargetCheck::failed(3, "refused") };
        let kept = Kept::default();
        let mut sinks: Vec<Box<dyn FleetSink>> = vec![Box::new(kept.clone())];
        let limits = Limits {
            jobs: 2,
            per_host: 2,
            target_timeout: None,
        };
        let end = rt()
            .block_on(run(
                targets("h:1\nh:2\nh:3 --bogus\nh:4\n"),
                limits,
                check,
                &mut sinks,
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(end.targets, 2);
        assert_eq!(end.worst_exit, 3);
        assert!(end.input_error.is_some_and(|e| e.line == 3));
    }

    /// Counts the targets the run took from the file.
    struct Counted<I>(I, Arc<AtomicUsize>);

    impl<I: Iterator> Iterator for Counted<I> {
        type Item = I::Item;
        fn next(&mut self) -> Option<I::Item> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.next()
        }
    }

    /// Whether at every outcome the run had read at most `ahead` targets past those done.
    struct ReadAhead {
        pulled: Arc<AtomicUsize>,
        done: usize,
        most_ahead: Arc<AtomicUsize>,
    }

    impl FleetSink for ReadAhead {
        fn add(&mut self, _: &TargetOutcome) -> std::io::Result<()> {
            self.done += 1;
            let ahead = self.pulled.load(Ordering::SeqCst).saturating_sub(self.done);
            self.most_ahead.fetch_max(ahead, Ordering::SeqCst);
            Ok(())
        }
        fn finish(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_file_is_read_only_as_fast_as_the_checks_take_targets() {
        let text: String = (0..3000)
            .map(|i| format!("h{}:{}\n", i % 50, i % 60000 + 1))
            .collect();
        let pulled = Arc::new(AtomicUsize::new(0));
        let most_ahead = Arc::new(AtomicUsize::new(0));
        let mut sinks: Vec<Box<dyn FleetSink>> = vec![Box::new(ReadAhead {
            pulled: pulled.clone(),
            done: 0,
            most_ahead: most_ahead.clone(),
        })];
        let check = |_t: FleetTarget| async {
            tokio::time::sleep(Duration::from_micros(200)).await;
            TargetCheck::failed(3, "refused")
        };
        let limits = Limits {
            jobs: 4,
            per_host: 2,
            target_timeout: None,
        };
        let end = rt()
            .block_on(run(
                Counted(targets(&text), pulled.clone()),
                limits,
                check,
                &mut sinks,
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(end.targets, 3000);
        let ahead = most_ahead.load(Ordering::SeqCst);
        // The tasks admitted, and the one target the reader holds while it waits for room.
        assert!(
            ahead <= 4 * READ_AHEAD_PER_JOB + 1,
            "{ahead} targets read ahead"
        );
        assert!(ahead > 1, "{ahead}: the checks ran at once");
    }

    #[test]
    fn the_host_map_holds_only_hosts_in_flight() {
        let hosts = Hosts::new(2);
        let a = hosts.slot("a");
        let a2 = hosts.slot("a");
        let b = hosts.slot("b");
        assert_eq!(hosts.in_flight(), 2);
        hosts.release("a", a);
        assert_eq!(hosts.in_flight(), 2);
        hosts.release("a", a2);
        hosts.release("b", b);
        assert_eq!(hosts.in_flight(), 0);
    }
}
