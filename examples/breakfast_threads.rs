//! Breakfast with helpers, as real Rust: each dish's hands-on work goes to a
//! thread of tokio's blocking pool, so the work runs in parallel on the
//! machine's cores. Twin of `taskscope run breakfast-threads` (there a
//! thread of its own per job). The real clock: CPUs really work.
//!
//!     cargo run --release --example breakfast_threads

use std::process::ExitCode;
use std::time::Duration;

use taskscope::lesson::{burn, io};
use tokio::task::{Builder, spawn_blocking};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn dish(work: Duration, wait: Duration) {
    spawn_blocking(move || burn(work)).await.unwrap();
    io(wait).await;
}

fn main() -> ExitCode {
    taskscope::Watch::new().multi_thread(2).run(async {
        let eggs = Builder::new().name("eggs").spawn(dish(ms(400), ms(300)));
        let toast = Builder::new().name("toast").spawn(dish(ms(300), ms(200)));
        let coffee = Builder::new().name("coffee").spawn(dish(ms(300), ms(200)));
        for dish in [eggs, toast, coffee] {
            dish.unwrap().await.unwrap();
        }
    })
}
