//! A kitchen makes six sandwiches onto a counter with room for two (a
//! bounded tokio channel); a diner takes them one by one and eats each in
//! 100 ms. The kitchen waits when the counter is full. Twin of
//! `taskscope run channel-pipeline`.
//!
//!     cargo run --release --example channel_pipeline

use std::process::ExitCode;
use std::time::Duration;

use taskscope::lesson::cpu;
use tokio::sync::mpsc;
use tokio::task::Builder;
use tokio::time::sleep;

fn main() -> ExitCode {
    taskscope::Watch::new()
        .virtual_clock()
        .pace(0.05)
        .run(async {
            let (counter, mut plate) = mpsc::channel::<u32>(2);
            let kitchen = Builder::new().name("kitchen").spawn(async move {
                for sandwich in 0..6 {
                    cpu(Duration::from_millis(10)); // make a sandwich
                    counter.send(sandwich).await.unwrap(); // put it on the counter
                }
            });
            let diner = Builder::new().name("diner").spawn(async move {
                for _ in 0..6 {
                    plate.recv().await.unwrap(); // take a sandwich
                    sleep(Duration::from_millis(100)).await; // eat it
                }
            });
            kitchen.unwrap().await.unwrap();
            diner.unwrap().await.unwrap();
        })
}
