//! The OS side seen exactly: every thread and process a lesson runs tells
//! its own time slices, with the CPU each ran on. In the events of the OS
//! lessons, on every CPU no two slices overlap, no moment has more rows on
//! CPUs than the run may use, and each row's slices add up to what the OS
//! itself measured of it (schedstat): its time on a CPU within 5%, its
//! number of slices within 20%. Also with the machine's CPUs kept busy
//! by other threads meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use taskscope::event::{Change, Event, TaskIdx, cpu_of};

use crate::util as common;

/// A row's slice: on CPU `cpu` from `from` to `to`.
struct Slice {
    row: TaskIdx,
    cpu: u16,
    from: Duration,
    to: Duration,
}

/// The slices of every thread and process row, from their events.
fn slices(events: &[Event]) -> Vec<Slice> {
    let mut open: HashMap<TaskIdx, (u16, Duration)> = HashMap::new();
    let mut done = Vec::new();
    for e in events {
        if let Some((cpu, from)) = open.remove(&e.task) {
            done.push(Slice {
                row: e.task,
                cpu,
                from,
                to: e.t,
            });
        }
        if let Change::Running { worker } = e.change
            && let Some(cpu) = cpu_of(worker)
        {
            open.insert(e.task, (cpu, e.t));
        }
    }
    assert!(open.is_empty(), "every slice ends");
    done
}

/// The CPUs this process may run on.
fn cpus_here() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn check(lesson: &str) {
    let scenario = common::bundled(lesson);
    let cpus = scenario.runtime.cpus.unwrap_or(usize::MAX).min(cpus_here());
    let events = common::record(scenario);
    let slices = slices(&events);
    // On every CPU, one row at a time.
    let mut by_cpu: HashMap<u16, Vec<&Slice>> = HashMap::new();
    for s in &slices {
        by_cpu.entry(s.cpu).or_default().push(s);
    }
    for (cpu, list) in &mut by_cpu {
        list.sort_by_key(|s| s.from);
        for w in list.windows(2) {
            assert!(
                w[1].from >= w[0].to,
                "{lesson}: rows {} and {} both on CPU {cpu} at {:?}",
                w[0].row,
                w[1].row,
                w[1].from
            );
        }
    }
    // Never more rows on CPUs than the run's CPUs.
    let mut edges: Vec<(Duration, i32)> = slices
        .iter()
        .flat_map(|s| [(s.from, 1), (s.to, -1)])
        .collect();
    edges.sort();
    let mut on = 0;
    for (t, d) in edges {
        on += d;
        assert!(
            on <= cpus as i32,
            "{lesson}: {on} rows on CPUs at {t:?}, the run has {cpus}"
        );
    }
    // Each row's slices are what the OS measured of it.
    let rows: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.change {
            Change::Done { stats, .. } => stats.os.map(|os| (e.task, os)),
            _ => None,
        })
        .collect();
    let expected = if lesson == "work-stealing" { 0 } else { 2 };
    assert!(rows.len() >= expected, "{lesson}: its rows have figures");
    for (row, os) in rows {
        let mine: Vec<_> = slices.iter().filter(|s| s.row == row).collect();
        let on_cpu: Duration = mine.iter().map(|s| s.to - s.from).sum();
        let (got, want) = (on_cpu.as_secs_f64(), os.cpu.as_secs_f64());
        assert!(
            (got - want).abs() <= want * 0.05,
            "{lesson}: row {row} on a CPU {got:.4} s by its slices, {want:.4} s by the OS"
        );
        let (n, m) = (mine.len() as f64, os.slices as f64);
        assert!(
            (n - m).abs() <= m * 0.2,
            "{lesson}: row {row} has {n} slices, the OS counted {m}"
        );
    }
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "the OS gives no schedstat here")]
fn each_os_lessons_slices_are_exact_and_one_row_a_cpu() {
    for lesson in [
        "preemption",
        "breakfast-threads",
        "breakfast-processes",
        "work-stealing",
    ] {
        check(lesson);
    }
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "the OS gives no schedstat here")]
fn the_slices_stay_exact_on_a_machine_kept_busy() {
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..cpus_here())
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
                }
            })
        })
        .collect();
    for lesson in ["preemption", "breakfast-processes"] {
        check(lesson);
    }
    stop.store(true, Ordering::Relaxed);
    for b in busy {
        b.join().unwrap();
    }
}
