//! The talk's `create_task` demo, as real Rust: two tasks started at once
//! say hello after 3 s and world after 6 s; awaiting both takes 6 s, not 9.
//! Twin of `taskscope run create-task`.
//!
//!     cargo run --release --example create_task

use std::process::ExitCode;
use std::time::Duration;

use tokio::task::Builder;
use tokio::time::sleep;

fn main() -> ExitCode {
    taskscope::Watch::new()
        .virtual_clock()
        .pace(0.5)
        .run(async {
            let hello = Builder::new()
                .name("say-after-3s")
                .spawn(sleep(Duration::from_secs(3)))
                .unwrap();
            let world = Builder::new()
                .name("say-after-6s")
                .spawn(sleep(Duration::from_secs(6)))
                .unwrap();
            hello.await.unwrap();
            world.await.unwrap();
        })
}
