//! Sequential breakfast, as real Rust: one cook does everything in order
//! and stands watching every pot. Twin of `taskscope run breakfast-sequential`.
//!
//!     cargo run --release --example breakfast_sequential

use std::process::ExitCode;
use std::time::Duration;

use taskscope::lesson::{cpu, io};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn main() -> ExitCode {
    taskscope::Watch::new()
        .virtual_clock()
        .pace(0.1)
        .run(async {
            let cook = tokio::task::Builder::new()
                .name("cook")
                .spawn(async {
                    cpu(ms(400)); // crack and whisk the eggs
                    io(ms(300)).await; // eggs boiling: we stand and watch the pot
                    cpu(ms(300)); // slice and butter the bread
                    io(ms(200)).await; // bread in the toaster
                    cpu(ms(300)); // grind the coffee
                    io(ms(200)).await; // coffee brewing
                })
                .unwrap();
            cook.await.unwrap();
        })
}
