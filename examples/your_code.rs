//! Plain tokio code under the scope: named tasks that sleep, two that share
//! a lock, two that talk over a channel. Try:
//!
//!     cargo run --release --example your_code                 # the dashboard
//!     cargo run --release --example your_code -- --paused     # n steps one poll
//!     cargo run --release --example your_code -- --json --clock virtual

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};
use tokio::task::Builder;
use tokio::time::sleep;

fn main() -> ExitCode {
    taskscope::watch(async {
        let three = Builder::new()
            .name("say-after-3s")
            .spawn(sleep(Duration::from_secs(3)))
            .unwrap();
        let six = Builder::new()
            .name("say-after-6s")
            .spawn(sleep(Duration::from_secs(6)))
            .unwrap();

        // The holder keeps the stove 500 ms; the waiter queues for it.
        let stove = Arc::new(Mutex::new(()));
        let s = stove.clone();
        let holder = Builder::new()
            .name("holder")
            .spawn(async move {
                let _stove = s.lock().await;
                sleep(Duration::from_millis(500)).await;
            })
            .unwrap();
        tokio::task::yield_now().await; // let the holder take it first
        let waiter = Builder::new()
            .name("waiter")
            .spawn(async move {
                let _stove = stove.lock().await;
            })
            .unwrap();

        // Room for one item: the producer waits for the consumer.
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let producer = Builder::new()
            .name("producer")
            .spawn(async move {
                for item in 0..3 {
                    tx.send(item).await.unwrap();
                }
            })
            .unwrap();
        let consumer = Builder::new()
            .name("consumer")
            .spawn(async move {
                while let Some(_item) = rx.recv().await {
                    sleep(Duration::from_millis(100)).await;
                }
            })
            .unwrap();

        for task in [three, six, holder, waiter, producer, consumer] {
            task.await.unwrap();
        }
    })
}
