//! One blocking call stalls every task on the thread: the blocker calls
//! `std::thread::sleep` (here `taskscope::lesson::block`, the same call,
//! timed on taskscope's clock) and the sleeper's 100 ms timer fires 200 ms
//! late. Twin of `taskscope run blocking-the-loop`.
//!
//!     cargo run --release --example blocking_the_loop
//!     cargo run --release --example blocking_the_loop -- --clock real   # a real std::thread::sleep

use std::process::ExitCode;
use std::time::Duration;

use taskscope::lesson::{block, cpu};
use tokio::task::Builder;
use tokio::time::sleep;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn main() -> ExitCode {
    taskscope::Watch::new()
        .virtual_clock()
        .pace(0.03)
        .run(async {
            let sleeper = Builder::new().name("sleeper").spawn(async {
                sleep(ms(100)).await; // set a 100 ms timer
                cpu(ms(5)); // timer fired: do a little work
            });
            let blocker = Builder::new().name("blocker").spawn(async {
                block(ms(300)); // std::thread::sleep inside async code
            });
            let bystander = Builder::new().name("bystander").spawn(async {
                sleep(ms(50)).await; // set the table (if it ever gets the thread)
                cpu(ms(10)); // a quick job
            });
            for task in [sleeper, blocker, bystander] {
                task.unwrap().await.unwrap();
            }
        })
}
