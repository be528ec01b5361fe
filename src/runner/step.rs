//! The step interpreter: one async function runs one task's steps.
//!
//! Before each await it tells the probe what the task is about to wait for
//! (and when a timer or reply is due), so a wake-up can be judged on time or
//! late by what really happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use super::Shared;
use crate::probe::{Kind, OsRow, Outcome, TaskIdx, TaskProbe, Wait};
use crate::runtime::os::{self, RowSlices, RunCpus, Schedstat, Told};
use crate::runtime::work::{Slices, burn_cpu, burn_sliced, charge_virtual, sleep_until_stopped};
use crate::scenario::{Action, Clock};

/// Ends a task's bookkeeping however the task ends (done, panic, abort).
struct Ending {
    shared: Arc<Shared>,
    spec: usize,
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.shared.task_ended(self.spec);
    }
}

/// Counts a task as parked on a channel, lock or join while it lives.
struct SyncWait<'a>(&'a Shared);

impl<'a> SyncWait<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.sync_waiting.fetch_add(1, Ordering::SeqCst);
        SyncWait(shared)
    }
}

impl Drop for SyncWait<'_> {
    fn drop(&mut self) {
        self.0.sync_waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A repeat block being run: body `start..end`, passes left.
struct Frame {
    start: usize,
    end: usize,
    left: u32,
}

/// What a thread, blocking job or child process needs to be a row.
struct OsSide {
    row: Option<Arc<OsRow>>,
    /// The run's CPUs, when it is pinned to some (or the step to one).
    cpus: Option<Arc<RunCpus>>,
    /// The step's own CPU (the run's `on_cpu`-th).
    on_cpu: Option<u16>,
    scale: f64,
}

impl OsSide {
    /// Called on the thread that does the work, at its start.
    fn begin(&self) -> Option<Schedstat> {
        if let Some(cpus) = &self.cpus {
            cpus.pin(self.on_cpu.map(usize::from));
        }
        Schedstat::own()
    }

    /// Burns `d` of CPU on this thread, telling the row each time slice;
    /// returns what was told (for the row's end).
    fn burn(&self, d: Duration) -> Option<RowSlices> {
        let stop = AtomicBool::new(false);
        match &self.row {
            Some(row) => {
                let mut slices = RowSlices::new(row.clone());
                burn_sliced(d, &stop, &mut slices);
                Some(slices)
            }
            None => {
                burn_cpu(d);
                None
            }
        }
    }

    /// Called on the same thread at its end: the row ends where its work
    /// did, with its figures from the OS.
    fn end(&self, start: Option<Schedstat>, slices: Option<RowSlices>) {
        let stats = start
            .zip(Schedstat::own())
            .map(|(a, b)| b.since(a, self.scale));
        if let Some(s) = slices {
            s.done(Outcome::Ok, stats);
        }
    }
}

/// A `cpu` step's burn on a worker: a gap in it is the OS taking the
/// worker's thread away in the middle of the task's poll.
struct WorkerSlices<'a> {
    probe: Option<&'a TaskProbe>,
    /// Where the OS took the thread away, until it gives it back.
    off_at: Option<u64>,
}

impl Slices for WorkerSlices<'_> {
    fn on_cpu(&mut self, _cpu: u16, at: u64) {
        if let (Some(off), Some(p)) = (self.off_at.take(), self.probe) {
            p.off_cpu(off, at);
        }
    }

    fn off_cpu(&mut self, at: u64) {
        self.off_at = Some(at);
    }
}

/// One task going through its steps: what its steps share.
struct TaskRun {
    shared: Arc<Shared>,
    spec: usize,
    name: Arc<str>,
    probe: Option<Arc<TaskProbe>>,
    me: Option<TaskIdx>,
    virtual_clock: bool,
    /// The mutexes it holds.
    held: Vec<(usize, OwnedMutexGuard<()>)>,
    /// Threads, jobs and processes it started, for their names.
    started: u32,
    /// The CPU the step being run asks its thread or process to run on.
    on_cpu: Option<u16>,
}

pub(crate) async fn run_task(
    shared: Arc<Shared>,
    spec: usize,
    name: Arc<str>,
    probe: Option<Arc<TaskProbe>>,
) {
    let _ending = Ending {
        shared: shared.clone(),
        spec,
    };
    let scenario = shared.scenario.clone();
    let steps = &scenario.tasks[spec].steps;
    let mut task = TaskRun {
        virtual_clock: scenario.runtime.clock == Clock::Virtual,
        me: probe.as_ref().map(|p| p.idx()),
        shared,
        spec,
        name,
        probe,
        held: Vec::new(),
        started: 0,
        on_cpu: None,
    };
    let mut frames: Vec<Frame> = Vec::new();
    let mut pc = 0;
    loop {
        pc = past_finished_repeats(&mut frames, pc);
        if task.shared.stopping.load(Ordering::Relaxed) {
            // Wait here for the cancel, which needs this worker back.
            std::future::pending::<()>().await;
        }
        let Some(step) = steps.get(pc) else { break };
        // A repeat is not a step of its own: its body's steps are.
        if let Some(p) = &task.probe
            && !matches!(step.action, Action::Repeat { .. })
        {
            p.begin_step(pc as u32);
        }
        task.shared.progress.fetch_add(1, Ordering::Relaxed);
        match &step.action {
            Action::Repeat { times, len } => frames.push(Frame {
                start: pc + 1,
                end: pc + 1 + len,
                left: *times,
            }),
            action => {
                task.on_cpu = step.on_cpu;
                task.step(action, pc).await;
            }
        }
        pc += 1;
    }
}

/// At the end of a repeat's body, back to its start while passes are
/// left, else past it (several bodies may end together).
fn past_finished_repeats(frames: &mut Vec<Frame>, mut pc: usize) -> usize {
    while let Some(f) = frames.last_mut()
        && pc == f.end
    {
        f.left -= 1;
        if f.left > 0 {
            pc = f.start;
        } else {
            frames.pop();
        }
    }
    pc
}

impl TaskRun {
    /// Runs one step (not a repeat), at index `pc`.
    async fn step(&mut self, action: &Action, pc: usize) {
        let shared = self.shared.clone();
        match action {
            Action::Repeat { .. } => {}
            Action::Sleep(d) => {
                self.wait(Wait::Timer, Some(*d));
                Box::pin(shared.sleep(*d)).await;
            }
            Action::Io(d) => self.io(*d).await,
            Action::Cpu { work, yield_every } => self.cpu(*work, *yield_every).await,
            Action::Block(d) => {
                if self.virtual_clock {
                    self.charge(*d);
                } else {
                    sleep_until_stopped(shared.wall(*d), &shared.stopping);
                }
            }
            Action::Yield => {
                self.wait(Wait::Yield, None);
                tokio::task::yield_now().await;
            }
            Action::SpawnBlocking(d) => {
                self.wait(Wait::Blocking, None);
                let side = self.os_side(Kind::Blocking, 0, pc);
                Box::pin(blocking_step(shared.wall(*d), side)).await;
            }
            Action::Thread(d) => {
                self.wait(Wait::Blocking, None);
                let side = |_| self.os_side(Kind::Thread, 0, pc);
                Box::pin(thread_step(&shared, shared.wall(*d), side)).await;
            }
            Action::Process(d) => {
                self.wait(Wait::Process, None);
                // Boxed: a big future, and every task would carry its size.
                let on_cpu = self.on_cpu;
                let side = |pid| self.os_side(Kind::Process, pid, pc);
                Box::pin(process_step(&shared, shared.wall(*d), on_cpu, side)).await;
            }
            Action::Spawn(other) => shared.spawn_copies(*other, self.me),
            Action::Join(_) | Action::Send(_) | Action::Recv(_) | Action::Lock(_) => {
                self.sync_step(action).await;
            }
            Action::Unlock(m) => self.held.retain(|(h, _)| h != m),
            Action::Fail(message) => crate::probe::fail(message),
        }
    }

    /// Tells the probe what the task is about to await, lasting `lasts`.
    fn wait(&self, wait: Wait, lasts: Option<Duration>) {
        if let Some(p) = &self.probe {
            p.set_wait(wait, lasts.map(|d| p.now() + d));
        }
    }

    /// Virtual clock: the thread is "busy" for `d` by moving the clock, and
    /// the probe is told, since it times the rest of the poll from that. On
    /// screen the poll is held for `d / speed` of wall time too.
    fn charge(&self, d: Duration) {
        let start = self.shared.now();
        charge_virtual(d);
        if let Some(p) = &self.probe {
            p.charged(d);
        }
        if let Some(c) = &self.shared.control {
            c.charge(start, d);
        }
    }

    /// An `io` step: connecting first, when nothing is due yet; the remote
    /// side's clock starts when the request is sent.
    async fn io(&self, d: Duration) {
        let shared = &self.shared;
        self.wait(Wait::Io, None);
        let sent = |queued: Duration| {
            let queued = queued.mul_f64(shared.scale);
            self.wait(Wait::Io, Some(d.saturating_sub(queued)));
        };
        // Boxed: a big future, and every task would carry its size.
        if let Err(e) = Box::pin(shared.io.request(shared.wall(d), sent)).await {
            panic!("io step failed: {e}");
        }
    }

    /// A `cpu` step: `work` of CPU in one go, or in chunks of `yield_every`
    /// with a yield between them.
    async fn cpu(&self, work: Duration, yield_every: Option<Duration>) {
        let chunk = yield_every.unwrap_or(work);
        let mut left = work;
        loop {
            let now = left.min(chunk);
            if self.virtual_clock {
                self.charge(now);
            } else {
                let mut slices = WorkerSlices {
                    probe: self.probe.as_deref(),
                    off_at: None,
                };
                burn_sliced(self.shared.wall(now), &self.shared.stopping, &mut slices);
            }
            left -= now;
            if left.is_zero() {
                break;
            }
            self.wait(Wait::Yield, None);
            tokio::task::yield_now().await;
        }
    }

    /// A step that waits on another task, a channel or a mutex: counted as
    /// parked meanwhile, for deadlock detection.
    async fn sync_step(&mut self, action: &Action) {
        let shared = self.shared.clone();
        match action {
            Action::Join(other) => {
                self.wait(Wait::Join, None);
                let _parked = SyncWait::new(&shared);
                let mut counts = shared.specs[*other].subscribe();
                let _ =
                    Box::pin(counts.wait_for(|c| c.spawned > 0 && c.finished >= c.spawned)).await;
            }
            Action::Send(ch) => {
                self.wait(Wait::Channel, None);
                let _parked = SyncWait::new(&shared);
                let _ = Box::pin(shared.channels[*ch].0.send(())).await;
            }
            Action::Recv(ch) => {
                self.wait(Wait::Channel, None);
                let _parked = SyncWait::new(&shared);
                let mut rx = Box::pin(shared.channels[*ch].1.lock()).await;
                let _ = Box::pin(rx.recv()).await;
            }
            Action::Lock(m) => {
                self.wait(Wait::Lock, None);
                let _parked = SyncWait::new(&shared);
                let guard = Box::pin(shared.mutexes[*m].clone().lock_owned()).await;
                self.held.push((*m, guard));
            }
            _ => {}
        }
    }

    /// The row of the thread, blocking job or process (`kind`, OS id `id`)
    /// this task starts at step `pc`.
    fn os_side(&mut self, kind: Kind, id: u64, pc: usize) -> OsSide {
        self.started += 1;
        let shared = &self.shared;
        let row = match (&shared.recorder, self.me) {
            (Some(recorder), Some(me)) => {
                let label = if self.started == 1 {
                    format!("{}/{}", self.name, kind.as_str())
                } else {
                    format!("{}/{}-{}", self.name, kind.as_str(), self.started)
                };
                let idx = shared.next_task.fetch_add(1, Ordering::Relaxed);
                let spec = self.spec as u32;
                Some(recorder.os_row(idx, label.into(), id, spec, pc as u32, me, kind))
            }
            _ => None,
        };
        let pinned = shared.scenario.runtime.cpus.is_some() || self.on_cpu.is_some();
        OsSide {
            row,
            cpus: pinned.then(|| shared.cpus.clone()),
            on_cpu: self.on_cpu,
            scale: shared.scale,
        }
    }
}

/// A `process` step: a child process burns `d` of CPU, telling its time
/// slices as they happen; a thread of its own reads them (its row's
/// transitions, in order) and waits for it. Cancelled, the child is killed.
async fn process_step(
    shared: &Shared,
    d: Duration,
    on_cpu: Option<u16>,
    side: impl FnOnce(u64) -> OsSide,
) {
    let Ok(_turn) = Box::pin(shared.processes.acquire()).await else {
        panic!("the run is closing");
    };
    let Some(exe) = &shared.worker_exe else {
        panic!(
            "cannot find this program's own executable (no /proc here, and it was not started \
             by a path), which a process step starts"
        );
    };
    let mut command = std::process::Command::new(exe);
    command
        .arg("__worker")
        .arg("cpu")
        .arg(d.as_nanos().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    os::die_with_parent(&mut command);
    if shared.scenario.runtime.cpus.is_some() || on_cpu.is_some() {
        shared.cpus.pin_child(&mut command, on_cpu.map(usize::from));
    }
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => panic!("could not start a child process: {e}"),
    };
    let kill = os::KillOnDrop::new(child.id());
    let side = side(u64::from(child.id()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let cancelled = kill.cancelled();
    let spawned = std::thread::Builder::new()
        .name("taskscope-child".into())
        .stack_size(256 << 10)
        .spawn(move || {
            let _ = tx.send(watch_child(child, &side, &cancelled));
        });
    if let Err(e) = spawned {
        panic!("could not start a thread for a child process: {e}");
    }
    let result = rx.await;
    kill.disarm();
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => panic!("lost the child process"),
    }
}

/// Reads what a child process tells of its time slices, records them on
/// its row, and waits for it: its row ends with the figures it reports of
/// itself.
fn watch_child(
    mut child: std::process::Child,
    side: &OsSide,
    cancelled: &AtomicBool,
) -> Result<(), String> {
    use std::io::BufRead;
    let mut slices = side.row.clone().map(RowSlices::new);
    let mut figures = None;
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            match (Told::parse(&line), slices.as_mut()) {
                (Some(Told::OnCpu { cpu, at }), Some(s)) => s.on_cpu(cpu, at),
                (Some(Told::OffCpu { at }), Some(s)) => s.off_cpu(at),
                (Some(Told::Still { at }), Some(s)) => s.still(at),
                (Some(Told::End { at }), Some(s)) => s.end(at),
                (Some(Told::Figures(f)), _) => figures = Some(f),
                _ => {}
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("could not wait for a child process: {e}"))?;
    let outcome = if status.success() {
        Outcome::Ok
    } else if cancelled.load(Ordering::Relaxed) {
        Outcome::Cancelled
    } else {
        Outcome::Panicked(format!("{status}"))
    };
    let failed = !status.success() && !cancelled.load(Ordering::Relaxed);
    if let Some(s) = &slices {
        let stats = figures.map(|s| s.since(Schedstat::default(), side.scale));
        s.done(outcome, stats.filter(|_| status.success()));
    }
    if failed {
        return Err(format!("child process failed: {status}"));
    }
    Ok(())
}

/// A `spawn_blocking` step: the job burns `d` of CPU on tokio's blocking
/// pool, as a row of its own.
async fn blocking_step(d: Duration, side: OsSide) {
    let job = tokio::task::spawn_blocking(move || {
        let start = side.begin();
        let slices = side.burn(d);
        side.end(start, slices);
    });
    if let Err(e) = job.await {
        panic!("spawn_blocking job failed: {e}");
    }
}

/// A `thread` step: an OS thread of its own burns `d` of CPU, once there
/// is room for another thread (more wait their turn).
async fn thread_step(shared: &Shared, d: Duration, side: impl FnOnce(u64) -> OsSide) {
    // Held until the thread has ended.
    let Ok(turn) = Box::pin(shared.threads.clone().acquire_owned()).await else {
        panic!("the run is closing");
    };
    let side = side(0);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("taskscope-helper".into())
        // Burning CPU needs little stack; 64 of 2 MiB add up.
        .stack_size(256 << 10)
        .spawn(move || {
            let start = side.begin();
            let slices = side.burn(d);
            side.end(start, slices);
            let _ = tx.send(());
        });
    let thread = match spawned {
        Ok(thread) => thread,
        Err(e) => panic!("could not start a thread: {e}"),
    };
    let _ = rx.await;
    // Its turn is given back once the thread has wholly ended.
    shared.reaper.reap(thread, turn);
}
