//! Latency of the sentence encoder on typical shopper messages.
//!
//! ```text
//! scripts/fetch-encoder target/encoder
//! cargo run --release -p wismo-encoder --example encode_bench -- target/encoder
//! ```
//!
//! Encodes 200 messages one at a time, then in batches of 32, and prints the
//! mean, median and 99th percentile in microseconds per message.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use wismo_encoder::Encoder;

const OPENERS: &[&str] = &[
    "hi,",
    "hello!",
    "hey there,",
    "good morning,",
    "quick question:",
    "",
    "excuse me,",
    "hi team,",
    "sorry to bother you,",
    "please help,",
];

const QUESTIONS: &[&str] = &[
    "where is my order?",
    "has my package shipped yet? I ordered it on Monday",
    "can I return these shoes if they don't fit?",
    "do you ship to Mexico and how long does it take?",
    "my parcel arrived damaged, the box was crushed and the mug inside is broken",
    "how do I change the delivery address on order 10452?",
    "I was charged twice for the same order, can you refund one of the payments?",
    "is the blue jacket available in size M?",
    "can I cancel my order, I bought the wrong colour",
    "the tracking number you sent me doesn't work",
    "when will the red sneakers be back in stock?",
    "do you offer free shipping on orders over 50 dollars?",
    "I never received my refund, it has been two weeks since you got the return",
    "can I pay with PayPal or Apple Pay?",
    "what are your opening hours on Sunday?",
    "the discount code SUMMER20 isn't working at checkout",
    "I'd like to exchange the medium t-shirt for a large one please",
    "my order says delivered but there's nothing at my door, what should I do?",
    "do these headphones come with a warranty?",
    "can you gift wrap my order and add a note?",
];

fn stats(mut micros: Vec<f64>) -> (f64, f64, f64) {
    micros.sort_by(f64::total_cmp);
    let n = micros.len();
    let mean = micros.iter().sum::<f64>() / n as f64;
    let pct = |p: f64| micros[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    (mean, pct(0.50), pct(0.99))
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: encode_bench MODEL_DIR   (fill it with scripts/fetch-encoder MODEL_DIR)");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    let encoder = match Encoder::load(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("loaded in {:.0} ms", started.elapsed().as_secs_f64() * 1e3);

    let messages: Vec<String> = (0..200)
        .map(|i| {
            let opener = OPENERS[(i / QUESTIONS.len()) % OPENERS.len()];
            let question = QUESTIONS[i % QUESTIONS.len()];
            format!("{opener} {question}").trim().to_string()
        })
        .collect();
    let texts: Vec<&str> = messages.iter().map(String::as_str).collect();

    // Warm up caches and allocator.
    for text in texts.iter().take(10) {
        if let Err(e) = encoder.encode_one(text) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }

    let mut single = Vec::with_capacity(texts.len());
    for text in &texts {
        let t = Instant::now();
        if let Err(e) = encoder.encode_one(text) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        single.push(t.elapsed().as_secs_f64() * 1e6);
    }

    // Per message in a batch: the batch's time divided by its size, once for
    // each message in it.
    let mut batched = Vec::with_capacity(texts.len());
    let batch_started = Instant::now();
    for chunk in texts.chunks(32) {
        let t = Instant::now();
        if let Err(e) = encoder.encode(chunk) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / chunk.len() as f64;
        batched.extend(std::iter::repeat_n(per, chunk.len()));
    }
    let batch_total = batch_started.elapsed().as_secs_f64();

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} messages, {threads} hardware threads, dim {}",
        texts.len(),
        encoder.dim()
    );
    let (mean, p50, p99) = stats(single);
    println!(
        "one at a time:    mean {mean:8.0} us  p50 {p50:8.0} us  p99 {p99:8.0} us per message"
    );
    let (mean, p50, p99) = stats(batched);
    println!(
        "batches of 32:    mean {mean:8.0} us  p50 {p50:8.0} us  p99 {p99:8.0} us per message"
    );
    println!(
        "batched throughput: {:.0} messages/s",
        texts.len() as f64 / batch_total
    );
    ExitCode::SUCCESS
}
