//! A task panics: tokio catches it, the other tasks go on, and whoever
//! awaits its JoinHandle gets `Err(JoinError)`. Twin of
//! `taskscope run panic-in-task`.
//!
//!     cargo run --release --example panic_in_task

use std::process::ExitCode;
use std::time::Duration;

use taskscope::lesson::{cpu, io};
use tokio::task::Builder;
use tokio::time::sleep;

fn main() -> ExitCode {
    taskscope::Watch::new()
        .virtual_clock()
        .pace(0.25)
        .run(async {
            let eggs = Builder::new()
                .name("eggs")
                .spawn(io(Duration::from_secs(3))) // boil the eggs
                .unwrap();
            let toast = Builder::new()
                .name("toast")
                .spawn(async {
                    sleep(Duration::from_secs(1)).await; // toast one side
                    sleep(Duration::from_secs(1)).await; // the other (forgot to check)
                    panic!("the toast burned");
                })
                .unwrap();
            let coffee = Builder::new()
                .name("coffee")
                .spawn(async {
                    sleep(Duration::from_millis(1500)).await; // brew the coffee
                    cpu(Duration::from_millis(5)); // pour it
                })
                .unwrap();
            let waiter = Builder::new()
                .name("waiter")
                .spawn(async move {
                    // Its JoinHandle returns Err(JoinError) when it panics.
                    let burned = toast.await;
                    assert!(burned.is_err_and(|e| e.is_panic()));
                })
                .unwrap();
            for task in [eggs, coffee, waiter] {
                task.await.unwrap();
            }
        })
}
