//! Probe overhead per poll: the same workload (many tasks that each yield
//! many times) on a bare runtime, with tokio-metrics' TaskMonitor alone,
//! with the taskscope probe (which counts the same figures itself), and with
//! console-subscriber's layer. Results and the command are in BENCHMARKS.md.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use taskscope::probe::{Recorder, TaskProbe};
use tokio_metrics::TaskMonitor;

const TASKS: u32 = 100;
const YIELDS: u32 = 100;

async fn work() {
    for _ in 0..YIELDS {
        tokio::task::yield_now().await;
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("{TASKS} tasks x {YIELDS} yields"));
    group.measurement_time(Duration::from_secs(4));
    let rt = runtime();
    group.bench_function("bare", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..TASKS).map(|_| tokio::spawn(work())).collect();
                for h in handles {
                    h.await.unwrap();
                }
            })
        })
    });
    group.bench_function("task_monitor", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..TASKS)
                    .map(|_| tokio::spawn(TaskMonitor::new().instrument(work())))
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            })
        })
    });
    let recorder = Recorder::new(1 << 22, false);
    rt.block_on(async { recorder.start_clock() });
    let mut sink = Vec::with_capacity(1 << 20);
    group.bench_function("taskscope_probe", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..TASKS)
                    .map(|i| {
                        let probe = TaskProbe::new(i, 0, recorder.clone());
                        tokio::spawn(probe.instrument(work()))
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            });
            // The consumer's share: take the events out, as the headless loop does.
            recorder.drain(&mut sink, Duration::ZERO);
            sink.clear();
        })
    });
    // console-subscriber's layer, with its aggregator running, as `--console` has it.
    let (layer, server) = console_subscriber::ConsoleLayer::builder().build();
    let parts = server.into_parts();
    std::thread::spawn(move || runtime().block_on(parts.aggregator.run()));
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = Arc::new(tracing_subscriber::registry().with(layer));
    let console_rt = tracing::subscriber::with_default(subscriber.clone(), runtime);
    group.bench_function("console_subscriber", |b| {
        b.iter(|| {
            tracing::subscriber::with_default(subscriber.clone(), || {
                console_rt.block_on(async {
                    let handles: Vec<_> = (0..TASKS).map(|_| tokio::spawn(work())).collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
