//! OS threads, blocking-pool jobs and child processes as rows of their own,
//! with figures from the OS itself.
//!
//! On Linux each thread's `/proc/self/task/TID/schedstat` (a process's
//! `/proc/PID/schedstat`) says how long it has been on a CPU, how long it
//! has been runnable but waiting for one (in a run queue), and how many time
//! slices it got. A watcher thread reads them every millisecond and records
//! when each row goes on a CPU and when the OS takes the CPU away, so two
//! busy threads on one CPU show the OS interrupting them in turn. Elsewhere
//! the rows show their start and end only.
//!
//! `[runtime] cpus = N` pins the run's threads (workers, helpers, blocking
//! pool) to N CPUs; child processes inherit it from the thread that starts
//! them. The watcher itself is not pinned: it must not take turns with what
//! it watches.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::probe::{OsRow, OsStats};

/// How often the watcher reads the OS's figures.
const EVERY: Duration = Duration::from_millis(1);

/// One schedstat reading: nanoseconds on a CPU, nanoseconds waiting for
/// one, time slices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedstat {
    pub run_ns: u64,
    pub wait_ns: u64,
    pub slices: u64,
}

impl Schedstat {
    /// Reads a schedstat file ("run wait slices"); None where there is none.
    pub fn read(path: &std::path::Path) -> Option<Schedstat> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut nums = text.split_whitespace().map(|n| n.parse::<u64>().ok());
        Some(Schedstat {
            run_ns: nums.next()??,
            wait_ns: nums.next()??,
            slices: nums.next()??,
        })
    }

    /// The calling thread's own figures.
    pub fn own() -> Option<Schedstat> {
        Schedstat::read(std::path::Path::new("/proc/thread-self/schedstat"))
    }

    /// What happened between `earlier` and this reading, in scenario time
    /// (`scale` scenario seconds per wall second).
    pub fn since(self, earlier: Schedstat, scale: f64) -> OsStats {
        let t = |ns: u64| Duration::from_nanos(ns).mul_f64(scale);
        OsStats {
            cpu: t(self.run_ns.saturating_sub(earlier.run_ns)),
            runqueue: t(self.wait_ns.saturating_sub(earlier.wait_ns)),
            slices: self.slices.saturating_sub(earlier.slices),
        }
    }

    /// The line a worker process prints at its end for its parent.
    pub fn to_line(self) -> String {
        format!("{} {} {}", self.run_ns, self.wait_ns, self.slices)
    }

    pub fn from_line(line: &str) -> Option<Schedstat> {
        let mut nums = line.split_whitespace().map(|n| n.parse::<u64>().ok());
        Some(Schedstat {
            run_ns: nums.next()??,
            wait_ns: nums.next()??,
            slices: nums.next()??,
        })
    }
}

/// The schedstat file of thread `tid` of this process.
pub fn thread_stat(tid: i64) -> PathBuf {
    PathBuf::from(format!("/proc/self/task/{tid}/schedstat"))
}

/// The schedstat file of process `pid` (its main thread).
pub fn process_stat(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/schedstat"))
}

/// The calling thread's id.
pub fn own_tid() -> i64 {
    // SAFETY: gettid has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::gettid() as i64
    }
}

/// Pins the calling thread to the first `cpus` CPUs it may run on.
pub fn pin(cpus: usize) {
    // SAFETY: the set is a plain bit mask, zeroed, then filled with CPUs the
    // thread may already use; sched_{get,set}affinity only read and write it.
    #[allow(unsafe_code)]
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return;
        }
        let mut chosen: libc::cpu_set_t = std::mem::zeroed();
        let mut n = 0;
        for cpu in 0..libc::CPU_SETSIZE as usize {
            if n == cpus {
                break;
            }
            if libc::CPU_ISSET(cpu, &allowed) {
                libc::CPU_SET(cpu, &mut chosen);
                n += 1;
            }
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &chosen);
    }
}

struct Watched {
    row: Arc<OsRow>,
    stat: PathBuf,
    last: Option<Schedstat>,
    /// When `last` was read.
    read_at: std::time::Instant,
    /// On a CPU (true) or waiting for one (false), as last recorded.
    on_cpu: Option<bool>,
}

/// The watcher: reads every row's figures while there are rows.
pub struct OsWatch {
    rows: Mutex<Vec<Watched>>,
    changed: Condvar,
    stop: AtomicBool,
}

impl OsWatch {
    /// Starts the watcher thread.
    pub fn start() -> Arc<OsWatch> {
        let watch = Arc::new(OsWatch {
            rows: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let w = watch.clone();
        let _ = std::thread::Builder::new()
            .name("taskscope-os-watch".into())
            .spawn(move || w.run());
        watch
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Watched>> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches `row`, whose figures are in the file `stat`.
    pub fn add(&self, row: Arc<OsRow>, stat: PathBuf) {
        self.lock().push(Watched {
            row,
            stat,
            last: None,
            read_at: std::time::Instant::now(),
            on_cpu: None,
        });
        self.changed.notify_all();
    }

    /// Stops watching `row` (it is about to end), after one last reading.
    pub fn remove(&self, row: &OsRow) {
        let mut rows = self.lock();
        if let Some(i) = rows.iter().position(|w| w.row.idx() == row.idx()) {
            let mut w = rows.swap_remove(i);
            sample(&mut w);
        }
    }

    /// Ends the watcher thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    fn run(&self) {
        let mut rows = self.lock();
        while !self.stop.load(Ordering::Acquire) {
            if rows.is_empty() {
                rows = self
                    .changed
                    .wait_timeout(rows, Duration::from_millis(100))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            for w in rows.iter_mut() {
                sample(w);
            }
            drop(rows);
            std::thread::sleep(EVERY);
            rows = self.lock();
        }
    }
}

/// Reads one row's figures and records a change of state since the last.
fn sample(w: &mut Watched) {
    let Some(now) = Schedstat::read(&w.stat) else {
        return;
    };
    let at = std::time::Instant::now();
    let since = at.saturating_duration_since(w.read_at).as_nanos() as u64;
    w.read_at = at;
    let Some(last) = w.last.replace(now) else {
        return;
    };
    let ran = now.run_ns.saturating_sub(last.run_ns);
    let waited = now.wait_ns.saturating_sub(last.wait_ns);
    if ran == 0 && waited == 0 {
        return;
    }
    // On a CPU for most of the interval: at most one row a CPU can be, so
    // two threads sharing one CPU never both show as on it.
    let on_cpu = ran * 2 > since.max(1);
    if !on_cpu && waited == 0 {
        return;
    }
    if w.on_cpu != Some(on_cpu) {
        w.on_cpu = Some(on_cpu);
        if on_cpu {
            w.row.on_cpu();
        } else {
            w.row.runnable();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedstat_line_reads_back_and_differences_scale() {
        let a = Schedstat::from_line("1000000 500000 3").unwrap();
        let b = Schedstat::from_line(
            &Schedstat {
                run_ns: 5_000_000,
                wait_ns: 1_500_000,
                slices: 10,
            }
            .to_line(),
        )
        .unwrap();
        let d = b.since(a, 0.5);
        assert_eq!(d.cpu, Duration::from_millis(2));
        assert_eq!(d.runqueue, Duration::from_micros(500));
        assert_eq!(d.slices, 7);
        assert_eq!(Schedstat::from_line("12 x 3"), None);
    }
}
