//! Breakfast with caterers, as real Rust: each dish's hands-on work goes to
//! a child process (this program, started again), which the OS runs beside
//! the runtime. Twin of `taskscope run breakfast-processes`. The real clock.
//!
//!     cargo run --release --example breakfast_processes

use std::process::ExitCode;
use std::time::Duration;

use taskscope::lesson::{io, process};
use tokio::task::Builder;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn dish(work: Duration, wait: Duration) {
    process(work).await;
    io(wait).await;
}

fn main() -> ExitCode {
    taskscope::watch(async {
        let eggs = Builder::new().name("eggs").spawn(dish(ms(400), ms(300)));
        let toast = Builder::new().name("toast").spawn(dish(ms(300), ms(200)));
        let coffee = Builder::new().name("coffee").spawn(dish(ms(300), ms(200)));
        for dish in [eggs, toast, coffee] {
            dish.unwrap().await.unwrap();
        }
    })
}
