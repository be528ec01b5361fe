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
    let _limit = crate::util::limit();
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
    let _limit = crate::util::limit();
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

/// A recorded run with one thread on CPU 0: slices of 3 ms at 1000 and
/// 1006 ms, runnable between them.
fn one_thread_log() -> taskscope::recording::Log {
    use taskscope::event::{Kind, OsStats, Outcome, RunInfo, TaskStats, WakeBy, on_cpu};
    let ms = Duration::from_millis;
    let ev = |t: Duration, change: Change| Event {
        t,
        task: 0,
        step: 0,
        change,
    };
    let running = Change::Running { worker: on_cpu(0) };
    let off = Change::Ready {
        by: WakeBy::Os,
        late: None,
        waited: None,
    };
    taskscope::recording::Log {
        info: RunInfo {
            scenario: "one-thread".into(),
            flavor: "current_thread".into(),
            workers: 1,
            clock: "real".into(),
            worker_cpus: Vec::new(),
        },
        events: vec![
            ev(
                ms(0),
                Change::Spawned {
                    name: "busy/thread".into(),
                    id: 0,
                    spec: 0,
                    parent: None,
                    kind: Kind::Thread,
                },
            ),
            ev(ms(1000), running.clone()),
            ev(ms(1003), off.clone()),
            ev(ms(1006), running),
            ev(
                ms(1009),
                Change::Done {
                    outcome: Outcome::Ok,
                    stats: Arc::new(TaskStats {
                        os: Some(OsStats {
                            cpu: ms(6),
                            runqueue: ms(3),
                            slices: 2,
                        }),
                        ..TaskStats::default()
                    }),
                },
            ),
        ],
        dropped: 0,
        stalled: None,
        runtime: None,
        complete: true,
    }
}

#[test]
fn zoomed_in_a_3_ms_slice_spans_many_columns_and_the_ruler_says_how_much_one_is() {
    let _limit = crate::util::limit();
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use taskscope::app::{App, Message, Session};
    use taskscope::keys::Key;
    let scenario = Arc::new(taskscope::scenario::Scenario::unknown("one-thread"));
    let mut session = Session::replay(scenario, one_thread_log());
    session.show_at(Duration::from_millis(1004));
    let mut app = App::with_session(session);
    app.update(Message::Key(Key::Char('v')));
    let draw = |app: &App| {
        let mut terminal = Terminal::new(TestBackend::new(120, 35)).unwrap();
        terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
        terminal.backend().to_string()
    };
    let lane = |screen: &str| -> usize {
        let line = screen
            .lines()
            .find(|l| l.contains("cpu 0"))
            .expect("a cpu 0 lane");
        // The row's letter, the most of one letter in the lane.
        let cells: Vec<char> = line.chars().skip(16).collect();
        let mut best = 0;
        for c in cells.iter().filter(|c| c.is_alphanumeric()) {
            best = best.max(cells.iter().filter(|x| *x == c).count());
        }
        best
    };
    // The whole run: 10 ms a column or so, the slice one.
    let whole = draw(&app);
    assert!(whole.contains("per column"), "{whole}");
    let before = lane(&whole);
    // Zoomed in to the finest: 0.1 ms a column, said in the ruler, and the
    // 3 ms slice (the moment shown is after it) spans 30 columns.
    for _ in 0..10 {
        app.update(Message::Key(Key::Char('z')));
        draw(&app);
    }
    let zoomed = draw(&app);
    assert!(zoomed.contains("lanes (zoomed)"), "{zoomed}");
    assert!(zoomed.contains("0.1 ms per column"), "{zoomed}");
    let after = lane(&zoomed);
    assert!(
        after >= 29,
        "the slice spans {after} columns zoomed in:\n{zoomed}"
    );
    assert!(after > before * 4, "{before} columns before, {after} after");
    // Zoomed out again, back to the window that fits the run.
    for _ in 0..20 {
        app.update(Message::Key(Key::Char('x')));
        draw(&app);
    }
    let out = draw(&app);
    assert!(!out.contains("(zoomed)"), "{out}");
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "CPUs are told apart on Linux only")]
fn the_trace_has_a_track_per_cpu_and_the_picture_its_lanes() {
    let _limit = crate::util::limit();
    let dir = tempfile::tempdir().unwrap();
    let (trace, svg) = (dir.path().join("t.json"), dir.path().join("p.svg"));
    common::ok_stdout(
        common::taskscope()
            .args(["run", "breakfast-threads", "--headless", "--trace"])
            .arg(&trace)
            .arg("--svg")
            .arg(&svg),
    );
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let cpus_pid = events
        .iter()
        .find(|e| e["name"] == "process_name" && e["args"]["name"] == "CPUs")
        .expect("a CPUs process")["pid"]
        .clone();
    let tracks: Vec<_> = events
        .iter()
        .filter(|e| e["pid"] == cpus_pid && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!tracks.is_empty() && tracks.iter().all(|t| t.starts_with("cpu ")));
    let on_cpu_ms: f64 = events
        .iter()
        .filter(|e| e["pid"] == cpus_pid && e["cat"] == "on_cpu")
        .map(|e| e["dur"].as_f64().unwrap() / 1000.0)
        .sum();
    // Three dishes of 300 to 400 ms of CPU each, on the CPU tracks.
    assert!(
        (900.0..1100.0).contains(&on_cpu_ms),
        "{on_cpu_ms} ms on the CPU tracks"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.contains(">cpu 0</text>"),
        "the picture has CPU lanes"
    );
    assert!(picture.contains("on cpu 0"), "with the slices on them");
}
