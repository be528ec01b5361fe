//! No heap allocation per poll on the probe's hot path: a counting
//! allocator compares the same yield-heavy workload with tokio-metrics'
//! TaskMonitor alone (no allocation per poll either) and with the
//! taskscope probe.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use taskscope::probe::{Recorder, TaskProbe};
use tokio_metrics::TaskMonitor;

struct Counting;

thread_local! {
    /// Allocations made on this thread: the workload runs on a
    /// current_thread runtime, on the test's own thread, so the other
    /// tests of this binary running beside it are not counted.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn allocations_so_far() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator, only counting calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // A const thread-local without a destructor: no allocation here,
        // and none during a thread's teardown.
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TASKS: u32 = 50;
const YIELDS: u32 = 2_000;

async fn work() {
    for _ in 0..YIELDS {
        tokio::task::yield_now().await;
    }
}

/// Allocations made while running the workload, each task wrapped by `wrap`.
fn allocations<F>(wrap: impl Fn(u32) -> F) -> u64
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let futures: Vec<F> = (0..TASKS).map(&wrap).collect();
    let before = allocations_so_far();
    rt.block_on(async {
        let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    allocations_so_far() - before
}

#[test]
fn the_probe_allocates_nothing_per_poll() {
    let _limit = crate::util::limit();
    let polls = u64::from(TASKS * (YIELDS + 1));
    let monitor = allocations(|_| TaskMonitor::new().instrument(work()));
    // Room for every event, as a consumer draining alongside would leave it.
    let recorder = Recorder::new(4 * polls as usize, false);
    {
        let mut warm = Vec::new();
        recorder.drain(&mut warm, Duration::ZERO);
    }
    let probed = allocations(|i| TaskProbe::new(i, 0, recorder.clone()).instrument(work()));
    let mut events = Vec::new();
    recorder.drain(&mut events, Duration::ZERO);
    assert!(
        events.len() as u64 >= 3 * u64::from(TASKS * YIELDS),
        "the probe recorded the polls"
    );
    let extra = probed.saturating_sub(monitor);
    eprintln!(
        "allocations: TaskMonitor {monitor}, probe {probed}, extra {extra} over {polls} polls"
    );
    // A few per task (its probe, its waker) and a handful for the event
    // buffer's growth; nothing that grows with the number of polls.
    assert!(
        extra < polls / 100,
        "{extra} more allocations than TaskMonitor alone over {polls} polls"
    );
}
