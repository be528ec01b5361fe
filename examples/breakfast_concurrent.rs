//! Concurrent breakfast on one thread, as real Rust: each dish is a task;
//! while one waits on its io the worker does the next one's hands-on work.
//! Twin of `taskscope run breakfast-concurrent`.
//!
//!     cargo run --release --example breakfast_concurrent

use std::process::ExitCode;
use std::time::Duration;

use taskscope::lesson::{cpu, io};
use tokio::task::Builder;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Hands-on work for `work`, then a wait on io for `wait`.
async fn dish(work: Duration, wait: Duration) {
    cpu(work);
    io(wait).await;
}

fn main() -> ExitCode {
    taskscope::Watch::new()
        .virtual_clock()
        .pace(0.1)
        .run(async {
            let eggs = Builder::new().name("eggs").spawn(dish(ms(400), ms(300)));
            let toast = Builder::new().name("toast").spawn(dish(ms(300), ms(200)));
            let coffee = Builder::new().name("coffee").spawn(dish(ms(300), ms(200)));
            for dish in [eggs, toast, coffee] {
                dish.unwrap().await.unwrap();
            }
        })
}
