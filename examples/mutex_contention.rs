//! Three cooks, one stove (a tokio Mutex): each preps, then waits its turn
//! for the stove and fries 200 ms holding it. Twin of
//! `taskscope run mutex-contention`.
//!
//!     cargo run --release --example mutex_contention

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use taskscope::lesson::cpu;
use tokio::sync::Mutex;
use tokio::task::Builder;
use tokio::time::sleep;

fn main() -> ExitCode {
    taskscope::Watch::new()
        .virtual_clock()
        .pace(0.05)
        .run(async {
            let stove = Arc::new(Mutex::new(()));
            let mut cooks = Vec::new();
            for n in 1..=3 {
                let stove = stove.clone();
                let cook = Builder::new().name(&format!("cook-{n}")).spawn(async move {
                    cpu(Duration::from_millis(10)); // prep the ingredients
                    let _stove = stove.lock().await; // wait for the stove
                    sleep(Duration::from_millis(200)).await; // fry, holding it
                });
                cooks.push(cook.unwrap());
            }
            for cook in cooks {
                cook.await.unwrap();
            }
        })
}
