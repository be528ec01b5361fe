//! OS threads, blocking-pool jobs and child processes as rows of their own,
//! with figures from the OS itself.
//!
//! Work taskscope runs itself tells each of its time slices exactly, with
//! its CPU, as it burns ([`crate::runtime::work::burn_sliced`]): a thread's
//! or blocking job's from the thread itself ([`RowSlices`]), a child
//! process's through its stdout, live ([`ToParent`], [`Told`]). On Linux
//! each thread's `/proc/thread-self/schedstat` says at its end how long it
//! was on a CPU, how long runnable but waiting for one, and how many time
//! slices it got: the row's figures, as the OS measured them.
//!
//! `[runtime] cpus = N` pins the run's threads (workers, helpers, blocking
//! pool) to N CPUs; child processes inherit it from the thread that starts
//! them.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::work::Slices;
use crate::event::Outcome;
use crate::probe::{Hold, OsRow, OsStats};

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

    /// The calling thread's own figures. Its time on a CPU from its CPU
    /// clock: schedstat's is brought up to date only at the scheduler's
    /// ticks and switches, so a running thread's lags by up to a tick.
    pub fn own() -> Option<Schedstat> {
        let mut own = Schedstat::read(std::path::Path::new("/proc/thread-self/schedstat"))?;
        let cpu = super::work::thread_cpu_time();
        own.run_ns = u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX);
        Some(own)
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

/// This program's own executable: where the OS says it is (`/proc`), or
/// the path it was started by when that has a `/` in it. Never looked up in
/// `$PATH`: that could be another program of the same name. None where
/// neither says (a system without `/proc`, started through `$PATH`).
pub fn own_executable() -> Option<PathBuf> {
    if let Ok(exe) = std::env::current_exe() {
        return Some(exe);
    }
    let arg0 = PathBuf::from(std::env::args_os().next()?);
    if !arg0.as_os_str().as_encoded_bytes().contains(&b'/') {
        return None;
    }
    let exe = if arg0.is_absolute() {
        arg0
    } else {
        std::env::current_dir().ok()?.join(arg0)
    };
    exe.is_file().then_some(exe)
}

/// The CPUs a run uses: the first `cpus` (all, when None) of those the
/// calling thread may run on. Taken once, before anything of the run is
/// pinned: every pin of the run picks from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCpus(Vec<usize>);

impl RunCpus {
    pub fn of_this_thread(cpus: Option<usize>) -> RunCpus {
        // SAFETY: a plain bit mask, zeroed, then filled by the call.
        #[allow(unsafe_code)]
        let allowed = unsafe {
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0
            {
                return RunCpus::default();
            }
            allowed
        };
        let all = (0..libc::CPU_SETSIZE as usize).filter(|c| {
            // SAFETY: reads a bit of the mask filled above.
            #[allow(unsafe_code)]
            unsafe {
                libc::CPU_ISSET(*c, &allowed)
            }
        });
        RunCpus(all.take(cpus.unwrap_or(usize::MAX)).collect())
    }

    /// The run's `nth` CPU (past the last, the last).
    pub fn nth(&self, nth: usize) -> Option<usize> {
        self.0.get(nth).or(self.0.last()).copied()
    }

    /// How many CPUs the run has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The mask of the run's `nth` CPU (past the last, the last), or of
    /// all of them (None).
    fn mask(&self, nth: Option<usize>) -> Option<libc::cpu_set_t> {
        let chosen: &[usize] = match nth {
            Some(n) => std::slice::from_ref(self.0.get(n).or(self.0.last())?),
            None => &self.0,
        };
        // SAFETY: a plain bit mask, zeroed, then bits set in it.
        #[allow(unsafe_code)]
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for cpu in chosen {
                libc::CPU_SET(*cpu, &mut set);
            }
            Some(set)
        }
    }

    /// Pins the calling thread to the run's `nth` CPU, or to all of them.
    pub fn pin(&self, nth: Option<usize>) {
        if let Some(set) = self.mask(nth) {
            set_affinity(&set);
        }
    }

    /// The child of `command` starts pinned to the run's `nth` CPU, or to
    /// all of them.
    pub fn pin_child(&self, command: &mut std::process::Command, nth: Option<usize>) {
        use std::os::unix::process::CommandExt;
        let Some(set) = self.mask(nth) else { return };
        // SAFETY: sched_setaffinity is a plain system call; the mask was
        // made before the fork.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                set_affinity(&set);
                Ok(())
            });
        }
    }
}

fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: the set is a valid mask; the call only reads it.
    #[allow(unsafe_code)]
    unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set);
    }
}

/// A child started by `command` is killed when the thread that starts it
/// ends (SIGKILL, from the kernel: taskscope killed, crashed or gone), so
/// no child outlives the run.
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Kills child `pid` if dropped armed (its task was cancelled before it
/// ended), and says so to whoever reaps it.
pub struct KillOnDrop {
    pid: u32,
    armed: bool,
    cancelled: Arc<AtomicBool>,
}

impl KillOnDrop {
    pub fn new(pid: u32) -> KillOnDrop {
        KillOnDrop {
            pid,
            armed: true,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once the child was killed for a cancel.
    pub fn cancelled(&self) -> Arc<AtomicBool> {
        self.cancelled.clone()
    }

    /// The child has been reaped: nothing to kill any more.
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.cancelled.store(true, Ordering::Relaxed);
            // SAFETY: kill only sends a signal; the pid is our unreaped child.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// Joins ended helper threads off the runtime, then lets their turn go:
/// a thread counts against the turns until it has wholly ended and its
/// stack is freed (let go when its work ended, thousands of exiting
/// threads held their stacks at once and the process ran out of memory
/// maps).
#[derive(Default)]
pub struct Reaper {
    to_join: Mutex<Option<std::sync::mpsc::Sender<Ended>>>,
}

/// An ended thread to join, and its turn to drop once joined.
type Ended = (std::thread::JoinHandle<()>, Box<dyn Send>);

impl Reaper {
    /// Joins `thread` soon, then drops `turn`.
    pub fn reap(&self, thread: std::thread::JoinHandle<()>, turn: impl Send + 'static) {
        let mut to_join = self.to_join.lock().unwrap_or_else(|e| e.into_inner());
        let sender = to_join.get_or_insert_with(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Ended>();
            let started = std::thread::Builder::new()
                .name("taskscope-reaper".into())
                .stack_size(64 << 10)
                .spawn(move || {
                    for (thread, turn) in rx {
                        let _ = thread.join();
                        drop(turn);
                    }
                });
            // No thread to join with: each is joined where it ends.
            if started.is_err() {
                let (tx, _) = std::sync::mpsc::channel();
                return tx;
            }
            tx
        });
        if let Err(std::sync::mpsc::SendError((thread, turn))) =
            sender.send((thread, Box::new(turn)))
        {
            let _ = thread.join();
            drop(turn);
        }
    }
}

/// A row's time slices, recorded as a burn tells them: from the thread
/// that burns (a `thread` step's, a blocking job's), or the one that reads
/// what a child process tells of its own.
pub struct RowSlices {
    row: Arc<OsRow>,
    hold: Hold,
    /// When these slices began to be recorded (ns), after the row's spawn:
    /// nothing is recorded earlier (a child may start on a CPU before its
    /// parent has recorded its row).
    from: u64,
    /// When the work ended (ns), once it has.
    ended: Option<u64>,
}

impl RowSlices {
    /// Slices of `row`, recorded from the calling thread from now on.
    pub fn new(row: Arc<OsRow>) -> RowSlices {
        let recorder = row.recorder().clone();
        let from = recorder.at_raw(crate::probe::real_clock().raw());
        let hold = recorder.hold(from);
        RowSlices {
            row,
            hold,
            from,
            ended: None,
        }
    }

    /// The scenario time of raw count `at`, never before [`RowSlices::from`].
    fn at(&self, at: u64) -> u64 {
        self.row.recorder().at_raw(at).max(self.from)
    }

    /// The row ends: at the end of its work, if it was told, else now.
    pub fn done(&self, outcome: Outcome, os: Option<OsStats>) {
        match self.ended {
            Some(t) => self.row.done_at(outcome, os, t),
            None => self.row.done(outcome, os),
        }
    }
}

impl Slices for RowSlices {
    fn on_cpu(&mut self, cpu: u16, at: u64) {
        let t = self.at(at);
        self.row.on_cpu_at(Some(cpu), t);
    }

    fn off_cpu(&mut self, at: u64) {
        let t = self.at(at);
        self.row.off_cpu_at(t);
    }

    fn still(&mut self, at: u64) {
        self.hold.move_to(self.at(at));
    }

    fn end(&mut self, at: u64) {
        self.ended = Some(self.at(at));
    }
}

/// A child process's slices, told to its parent through its stdout as
/// they happen: `on CPU RAW`, `off RAW`, `at RAW` (still on a CPU), and its
/// own figures (`Schedstat::to_line`) last. Written every 10 ms: each write
/// wakes the parent's reader, which could take the CPU from the child, so
/// fewer writes disturb it less (the parent's screen is 10 ms behind).
pub struct ToParent<W: Write> {
    out: W,
    lines: String,
    /// Raw count of the last write.
    told: u64,
    /// Raw counts between writes.
    every: u64,
}

impl<W: Write> ToParent<W> {
    pub fn new(out: W) -> ToParent<W> {
        let clock = crate::probe::real_clock();
        let start = clock.raw();
        // Raw counts per nanosecond, measured over a short spin.
        let mut end = clock.raw();
        while clock.delta_as_nanos(start, end) < 100_000 {
            end = clock.raw();
        }
        let per_ns = (end - start) as f64 / clock.delta_as_nanos(start, end).max(1) as f64;
        ToParent {
            out,
            lines: String::new(),
            told: start,
            every: (per_ns * 10_000_000.0) as u64,
        }
    }

    fn write(&mut self) {
        // A parent that went away: the child works on, as it would alone.
        let _ = self
            .out
            .write_all(self.lines.as_bytes())
            .and_then(|()| self.out.flush());
        self.lines.clear();
    }
}

impl<W: Write> Drop for ToParent<W> {
    fn drop(&mut self) {
        self.write();
    }
}

impl<W: Write> Slices for ToParent<W> {
    fn on_cpu(&mut self, cpu: u16, at: u64) {
        use std::fmt::Write as _;
        let _ = writeln!(self.lines, "on {cpu} {at}");
    }

    fn off_cpu(&mut self, at: u64) {
        use std::fmt::Write as _;
        let _ = writeln!(self.lines, "off {at}");
    }

    fn end(&mut self, at: u64) {
        use std::fmt::Write as _;
        let _ = writeln!(self.lines, "end {at}");
    }

    fn still(&mut self, at: u64) {
        if at.saturating_sub(self.told) >= self.every {
            use std::fmt::Write as _;
            let _ = writeln!(self.lines, "at {at}");
            self.told = at;
            self.write();
        }
    }
}

/// One line a child process tells its parent (see [`ToParent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    OnCpu { cpu: u16, at: u64 },
    OffCpu { at: u64 },
    Still { at: u64 },
    End { at: u64 },
    Figures(Schedstat),
}

impl Told {
    pub fn parse(line: &str) -> Option<Told> {
        let mut words = line.split_whitespace();
        let num = |w: Option<&str>| w.and_then(|w| w.parse::<u64>().ok());
        match words.next()? {
            "on" => {
                let cpu = u16::try_from(num(words.next())?).ok()?;
                Some(Told::OnCpu {
                    cpu,
                    at: num(words.next())?,
                })
            }
            "off" => Some(Told::OffCpu {
                at: num(words.next())?,
            }),
            "at" => Some(Told::Still {
                at: num(words.next())?,
            }),
            "end" => Some(Told::End {
                at: num(words.next())?,
            }),
            _ => Schedstat::from_line(line).map(Told::Figures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedstat_line_reads_back_and_differences_scale() {
        let _limit = crate::test_limit::limit();
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
