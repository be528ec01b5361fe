//! What watching costs: the same program (many tasks that each yield many
//! times) on plain tokio, under console-subscriber, and under
//! `taskscope::watch`. It prints how long the tasks took, from the first
//! spawn to the last join, so start-up and the summary are left out.
//! Results and the commands are in BENCHMARKS.md.
//!
//!     OVERHEAD=bare    cargo run --release --example overhead
//!     OVERHEAD=console cargo run --release --example overhead
//!     OVERHEAD=watch   cargo run --release --example overhead -- --json

use std::process::ExitCode;
use std::time::Instant;

const TASKS: u32 = 10_000;
const YIELDS: u32 = 100;

async fn program() {
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(async {
                for _ in 0..YIELDS {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    eprintln!(
        "{TASKS} tasks x {YIELDS} yields: {:.1} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
}

fn plain_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn main() -> ExitCode {
    match std::env::var("OVERHEAD").as_deref() {
        Ok("bare") => plain_tokio().block_on(program()),
        Ok("console") => {
            console_subscriber::init();
            plain_tokio().block_on(program())
        }
        Ok("watch") => return taskscope::watch(program()),
        _ => {
            eprintln!("set OVERHEAD to bare, console or watch");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
