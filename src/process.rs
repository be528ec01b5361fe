//! The process around a run: its one panic hook, its one set of signal
//! handlers, and its memory arenas.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::say;

/// The one panic hook: quiet for panics inside a run's tasks (a `fail`
/// step is a lesson, your own code's panic is its task's outcome); for
/// anything else the terminal is given back first, then one line, never a
/// backtrace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = crate::probe::panic_message(info.payload());
        if crate::probe::in_task() {
            // Your own code's task: the message is its outcome.
            crate::runtime::hooks::note_panic(&message);
            return;
        }
        crate::tui::give_back();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        say(&format!("internal error{at}: {message}"));
    }));
}

/// Keeps the process's address space small: glibc gives each thread that
/// allocates its own malloc arena, up to 8 per core, each reserving 64 MiB,
/// so a run with its 64 helper threads could reserve gigabytes it never
/// uses. Two arenas are plenty: the runtime does little in parallel.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning value; called before other threads.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Whether SIGUSR1 and SIGUSR2 stop a run as SIGTERM does: in the
/// `taskscope` binary they do; your own program keeps them.
static USER_SIGNALS_STOP: AtomicBool = AtomicBool::new(false);

/// SIGUSR1 and SIGUSR2 stop a run cleanly, as SIGTERM does (their default
/// would end the process with the terminal left raw). For the `taskscope`
/// binary: your own program may use them.
pub fn stop_on_user_signals() {
    USER_SIGNALS_STOP.store(true, Ordering::Relaxed);
}

/// What the signals said, for the run to act on.
pub struct Signals {
    /// SIGINT, SIGTERM, SIGHUP (the terminal closed), SIGQUIT (Ctrl-\\),
    /// SIGALRM (and in the binary SIGUSR1, SIGUSR2): the run stops
    /// cleanly, files complete. Holds the signal's number.
    pub stop: Arc<AtomicUsize>,
    /// SIGTSTP (the dashboard's Ctrl-Z): suspend with the terminal given
    /// back.
    pub suspend: Arc<AtomicBool>,
}

/// The one signal set-up. The first of the signals [`Signals::stop`] names
/// sets it; a second ends the process at once, with the
/// terminal given back and the temporary files `temps` removed, so nothing
/// half-written stays behind. SIGTSTP is taken over only where the
/// dashboard can `suspend` itself (a headless run stops as any program).
pub fn watch_signals(temps: Vec<PathBuf>, suspend: bool) -> Signals {
    use signal_hook::consts::{SIGALRM, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};
    let signals = Signals {
        stop: Arc::new(AtomicUsize::new(0)),
        suspend: Arc::new(AtomicBool::new(false)),
    };
    if suspend {
        let _ = signal_hook::flag::register(SIGTSTP, signals.suspend.clone());
    }
    use signal_hook::consts::{SIGUSR1, SIGUSR2};
    let mut stops = vec![SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM];
    // Your own program may use SIGUSR1 and SIGUSR2: they are its own.
    if USER_SIGNALS_STOP.load(Ordering::Relaxed) {
        stops.extend([SIGUSR1, SIGUSR2]);
    }
    let Ok(mut iter) = signal_hook::iterator::Signals::new(stops) else {
        return signals;
    };
    let flag = signals.stop.clone();
    let _ = std::thread::Builder::new()
        .name("taskscope-signals".into())
        .spawn(move || {
            let temps = Arc::new(temps);
            for signal in iter.forever() {
                if flag.swap(signal as usize, Ordering::SeqCst) == 0 {
                    // A run that cannot stop (its output blocked: a pipe
                    // nobody reads) still ends, a while after.
                    let temps = temps.clone();
                    let _ = std::thread::Builder::new()
                        .name("taskscope-stop-deadline".into())
                        .spawn(move || {
                            std::thread::sleep(STOP_DEADLINE);
                            end_now(signal, &temps, true)
                        });
                    continue;
                }
                end_now(signal, &temps, false);
            }
        });
    signals
}

/// How long a run has to stop cleanly after the first signal before it is
/// ended as a second signal ends it.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Ends the process after `signal`: the terminal given back, the temporary
/// files `temps` removed (nothing half-written stays), and, when the run
/// did not stop by itself (`late`), a line saying so.
fn end_now(signal: i32, temps: &[PathBuf], late: bool) -> ! {
    crate::tui::give_back();
    for temp in temps {
        let _ = std::fs::remove_file(temp);
    }
    if late {
        say(&format!(
            "stopped by signal {signal}, but the run did not end within {} s (an output \
             nothing reads?); ended now, its output files left out",
            STOP_DEADLINE.as_secs()
        ));
    }
    std::process::exit(128 + signal)
}

/// The binary's allocator: the system's, except that when it has no memory
/// left it gives the terminal back, says so in one line and ends the
/// process (exit 2), allocating nothing: Rust's own handling would abort
/// with a backtrace, and no panic hook runs (the terminal would stay raw,
/// on the alternate screen).
pub struct GiveBackOnOom;

/// Memory ran out: see [`GiveBackOnOom`].
fn out_of_memory() -> ! {
    crate::tui::give_back_without_allocating();
    const SAY: &[u8] = b"taskscope: out of memory (README, Limits: what a run takes)\n";
    // SAFETY: writes a static buffer to stderr and ends the process at once.
    #[allow(unsafe_code)]
    unsafe {
        libc::write(2, SAY.as_ptr().cast(), SAY.len());
        libc::_exit(2)
    }
}

// SAFETY: every call is passed to the system allocator unchanged.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for GiveBackOnOom {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}
