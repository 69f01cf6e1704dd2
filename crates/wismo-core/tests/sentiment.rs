//! Sentiment analysis through the public API.

use wismo_core::nlu::sentiment::{analyze, SentimentLabel, NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD};
use SentimentLabel::{Negative, Neutral, Positive};

fn score(text: &str) -> f32 {
    analyze(text).score
}

/// Asserts the label of one message (and that its score is consistent).
fn check(text: &str, expected: SentimentLabel) {
    let s = analyze(text);
    assert!(
        (-1.0..=1.0).contains(&s.score),
        "{text:?}: score {} out of range",
        s.score
    );
    assert_eq!(s.label, SentimentLabel::from_score(s.score), "{text:?}");
    assert_eq!(s.label, expected, "{text:?} scored {}", s.score);
}

/// Asserts `a` scores strictly lower than `b`.
fn lower(a: &str, b: &str) {
    let (sa, sb) = (score(a), score(b));
    assert!(sa < sb, "expected {a:?} ({sa}) < {b:?} ({sb})");
}

#[test]
fn labels_of_real_looking_messages() {
    let cases: &[(&str, SentimentLabel)] = &[
        // Plain requests and politeness: neutral.
        ("where is my order?", Neutral),
        ("Where is my order", Neutral),
        ("hi", Neutral),
        ("Hi!", Neutral),
        ("hello, can you check order #10452 please", Neutral),
        ("please", Neutral),
        ("pls help", Neutral),
        ("Can I change my shipping address?", Neutral),
        ("what's the tracking number for order 88123?", Neutral),
        ("I'd like to cancel my order", Neutral),
        ("how do I return an item", Neutral),
        ("Good morning, quick question about my delivery", Neutral),
        ("When will it be delivered?", Neutral),
        ("Has my order shipped yet?", Neutral),
        ("ok", Neutral),
        ("my order number is 55512", Neutral),
        ("Do you ship to Canada?", Neutral),
        ("Kind regards, Sam", Neutral),
        ("I want to exchange it for a size M", Neutral),
        ("Is it possible to change the delivery date?", Neutral),
        ("Do you have this in blue?", Neutral),
        ("I'm not sure what size to pick", Neutral),
        (
            "Hello, I hope you are well. Could you tell me when my order will arrive?",
            Neutral,
        ),
        ("", Neutral),
        // Annoyed shoppers.
        ("third time asking where my order is", Negative),
        ("3rd time asking. where is my package", Negative),
        ("still nothing", Negative),
        ("Still waiting for my refund", Negative),
        ("this is ridiculous", Negative),
        ("absolutely unacceptable", Negative),
        ("this store is a scam", Negative),
        ("never again", Negative),
        ("where the hell is my order", Negative),
        ("wtf where is my stuff", Negative),
        ("your tracking page is useless", Negative),
        ("I'm fed up with this", Negative),
        ("sick of waiting", Negative),
        ("what a waste of money", Negative),
        ("no one answers the phone", Negative),
        ("it's been a week and nothing", Negative),
        ("I will file a chargeback", Negative),
        ("I'm going to report you to the BBB", Negative),
        ("my package never arrived", Negative),
        ("I haven't received my order", Negative),
        ("It still hasn't arrived", Negative),
        ("not happy", Negative),
        ("I'm not happy with the service", Negative),
        ("The box was damaged and the lamp is broken", Negative),
        ("you sent me the wrong size", Negative),
        ("WHERE IS MY ORDER", Negative),
        ("where is my order??", Negative),
        ("hello?? anyone there???", Negative),
        ("ugh. still no update", Negative),
        ("smh", Negative),
        ("😡", Negative),
        ("🤬🤬🤬", Negative),
        ("waiting for 2 weeks now 😤", Negative),
        ("thanks for nothing", Negative),
        ("the item doesn't work", Negative),
        ("nobody has replied to my emails", Negative),
        ("I want my money back", Negative),
        ("I've been charged twice for the same order", Negative),
        ("this is taking forever", Negative),
        ("Your customer service is terrible!", Negative),
        ("very disappointed :(", Negative),
        ("seriously?? 10 days and no tracking", Negative),
        ("How many times do I have to ask", Negative),
        ("pls respond, it's urgent >:(", Negative),
        ("I'm so frustrated", Negative),
        ("ordered weeks ago and still no sign of it", Negative),
        ("is this a joke?", Negative),
        ("I'm not impressed", Negative),
        (
            "The order was late but the product is ok I guess, still annoyed",
            Negative,
        ),
        ("good product but late delivery", Negative),
        ("Sorry but this is unacceptable", Negative),
        ("dissapointed, the item is missing", Negative),
        ("I need this to be fixed asap, it's not ok", Negative),
        ("🙄 of course it's delayed again", Negative),
        ("My order says delivered but it's not here", Negative),
        ("Nobody got back to me", Negative),
        ("I never got a response", Negative),
        (
            "This is the worst customer service I have ever experienced",
            Negative,
        ),
        ("Order 12345 hasn't moved in 5 days", Negative),
        ("why is it taking so long", Negative),
        ("you said 3 days, it's been 3 weeks", Negative),
        ("Can you please hurry up", Negative),
        // Happy shoppers.
        ("thank you so much!", Positive),
        ("thanks so much!! 😊", Positive),
        ("thx", Positive),
        ("ty!", Positive),
        ("tysm", Positive),
        ("you're a lifesaver", Positive),
        ("perfect, thanks", Positive),
        ("awesome!", Positive),
        ("love it ❤️", Positive),
        ("it arrived early, great service", Positive),
        ("Got it today, everything is perfect 👍", Positive),
        ("no problem", Positive),
        ("no worries, take your time", Positive),
        ("not bad", Positive),
        ("Great, that solved it :)", Positive),
        ("Thank you for the quick reply 🙏", Positive),
        ("the package arrived in perfect condition", Positive),
        ("wow, fast shipping, will order again", Positive),
        ("late delivery but the product is great", Positive),
        (
            "Although it arrived late, the quality is excellent",
            Positive,
        ),
        ("thanks, that's really helpful", Positive),
        ("Ok thank you", Positive),
        ("I'm sooo happy with my order", Positive),
        ("you guys rock", Positive),
        ("much appreciated!", Positive),
        ("I have no complaints", Positive),
        ("THANK YOU SO MUCH", Positive),
        ("the refund came through, thanks :)", Positive),
        ("Nothing wrong with the order, all good", Positive),
        ("Thanks for getting back to me so quickly!", Positive),
        ("It works now, thank you", Positive),
        ("Super fast delivery, very pleased!", Positive),
    ];
    assert!(cases.len() >= 80);
    for &(text, label) in cases {
        check(text, label);
    }
}

#[test]
fn negation_flips_and_softens() {
    lower("not happy", "happy");
    lower("I'm not happy with it", "I'm happy with it");
    lower("this isn't good", "this is good");
    lower("bad", "not bad");
    lower("my order never arrived", "my order arrived");
    lower("no problem", "no problem at all!");
    // "not very good" is milder than "not good".
    lower("not good", "not very good");
    // Negation does not reach across a clause boundary.
    lower("no. I'm not happy", "no, I'm happy");
    check("no, I'm happy", Positive);
}

#[test]
fn intensifiers_dampeners_and_emphasis() {
    lower("extremely angry", "angry");
    lower("angry", "kinda angry");
    lower("really bad", "bad");
    lower("bad", "slightly bad");
    lower("bad", "a bit bad");
    lower("happy", "very happy");
    lower("happy", "super happy");
    lower("good", "absolutely amazing");
    lower("ANGRY", "angry");
    lower("I am ANGRY", "I am angry");
    lower("happy", "HAPPY");
    // Words usually written in capitals get no extra emphasis.
    assert_eq!(score("WTF"), score("wtf"));
    assert_eq!(
        score("report you to the BBB"),
        score("report you to the bbb")
    );
    lower("bad!!!", "bad");
    lower("bad!", "bad");
    lower("great", "great!!");
    lower("sooo sad", "sad");
    lower("happy", "sooo happy");
    lower("thanks", "thaaanks");
}

#[test]
fn exclamation_marks_are_capped() {
    let four = score("terrible!!!!");
    let many = score(&format!("terrible{}", "!".repeat(50)));
    assert!((four - many).abs() < 1e-6, "{four} vs {many}");
}

#[test]
fn shouting_and_question_runs() {
    lower("WHERE IS MY ORDER", "where is my order");
    lower("where is my order??", "where is my order?");
    lower("where is my order???", "where is my order??");
    lower("where is my order?!", "where is my order?");
    check("where is my order?", Neutral);
    check("Hi!", Neutral);
    check("please", Neutral);
}

#[test]
fn contrast_clauses() {
    let good_but_late = score("good but late");
    let late_but_good = score("late but good");
    assert!(good_but_late < 0.0, "good but late: {good_but_late}");
    assert!(late_but_good > 0.0, "late but good: {late_but_good}");
    lower(
        "the box was fine however the item is broken",
        "the item is broken",
    );
    check(
        "the food is great, however the delivery was very late",
        Negative,
    );
    check("even though it was late, I love it", Positive);
}

#[test]
fn domain_phrases() {
    check("third time asking where my order is", Negative);
    check("thanks so much!! 😊", Positive);
    check("where is my order?", Neutral);
    lower("third time asking where my order is", "where is my order");
    lower("still waiting", "waiting");
    lower("it's been a week", "it's been a day");
    lower("scam", "ridiculous");
    lower("thank you", "thank you so much");
    lower("thanks", "thanks, you're a lifesaver");
}

#[test]
fn emoji_and_emoticons() {
    check(":)", Positive);
    check(":(", Negative);
    check(">:(", Negative);
    check(":-)", Positive);
    check("<3", Positive);
    check("thanks:)", Positive);
    check("ok :(((", Negative);
    check("👍", Positive);
    check("🙏", Positive);
    check("😊", Positive);
    check("❤️", Positive);
    check("❤", Positive);
    check("😢", Negative);
    check("😭😭", Negative);
    check("🤦‍♀️", Negative);
    check("👍🏽", Positive);
    lower(">:(", ":(");
    lower("😡", "😤");
    // Emoticon-like text inside URLs or times is not an emoticon.
    check("see https://example.com/orders/1", Neutral);
    check("delivered at 10:30", Neutral);
}

#[test]
fn slang_and_misspellings() {
    check("ty so much", Positive);
    check("thx!!", Positive);
    check("ugh", Negative);
    check("wtf", Negative);
    check("omg thank you", Positive);
    check("omg where is it", Neutral);
    check("recieved the wrong item", Negative);
    check("so dissapointed", Negative);
    check("rediculous", Negative);
    lower("omg this is awful", "this is awful");
}

#[test]
fn scores_stay_in_range() {
    let texts = [
        "scam scam scam scam scam fraud thieves 🤬🤬🤬🤬 WTF!!!!!!!!",
        "THANK YOU SO SO MUCH YOU ARE AMAZING AWESOME PERFECT 😍😍😍!!!!",
        "love love love love love love love love love love",
        "hate hate hate hate hate hate hate hate hate hate??????",
        "not not not not not happy",
    ];
    for t in texts {
        let s = score(t);
        assert!((-1.0..=1.0).contains(&s), "{t:?}: {s}");
    }
    assert!(score(texts[0]) < -0.9);
    assert!(score(texts[1]) > 0.9);
    let long_negative = "this is terrible. ".repeat(10_000);
    let s = score(&long_negative);
    assert!((-1.0..=-0.9).contains(&s), "{s}");
}

#[test]
fn labels_follow_documented_thresholds() {
    assert_eq!(SentimentLabel::from_score(NEGATIVE_THRESHOLD), Negative);
    assert_eq!(SentimentLabel::from_score(POSITIVE_THRESHOLD), Positive);
    assert_eq!(
        SentimentLabel::from_score(NEGATIVE_THRESHOLD + 0.01),
        Neutral
    );
    assert_eq!(
        SentimentLabel::from_score(POSITIVE_THRESHOLD - 0.01),
        Neutral
    );
    assert_eq!(NEGATIVE_THRESHOLD, -POSITIVE_THRESHOLD);
    assert_eq!(SentimentLabel::from_score(0.0), Neutral);
    assert_eq!(SentimentLabel::from_score(-1.0), Negative);
    assert_eq!(SentimentLabel::from_score(1.0), Positive);
}

#[test]
fn hostile_input_does_not_panic() {
    let mut inputs: Vec<String> = vec![
        String::new(),
        " ".into(),
        "\n\n\t\r".into(),
        "\0\u{1}\u{7f}\u{1b}[31m".into(),
        "😡😊🙏❤️👍🏽🤦‍♀️🏳️‍🌈".repeat(1000),
        "e\u{301}\u{301}\u{301}\u{301}\u{301} n\u{303} \u{301}\u{301}".into(),
        "\u{301}".into(),
        "مرحبا، أين طلبي؟ שלום".into(),
        "\u{202e}olleh\u{202c} \u{200f}\u{200d}\u{feff}".into(),
        "?!?!?!?!".repeat(10_000),
        "!".repeat(100_000),
        ":):(:D>:(<3".repeat(1000),
        "a".repeat(1_000_000),
        "not ".repeat(100_000),
        "sooooooooooooooooooooooooooooooooooooooooooooooo".into(),
        "'''''' ’’’ don’t ``".into(),
        "\u{10ffff}\u{fffd}\u{e0001}".into(),
        "ÉNORME PROBLÈME ΑΒΓ İSTANBUL ß".into(),
    ];
    let mut big = String::new();
    while big.len() < 1_000_000 {
        big.push_str("where is my order?? 😡 not happy at all!!! ");
    }
    inputs.push(big);
    for input in &inputs {
        let s = analyze(input);
        assert!((-1.0..=1.0).contains(&s.score));
        assert!(s.score.is_finite());
        assert_eq!(s.label, SentimentLabel::from_score(s.score));
    }
    // Still works after huge inputs (scratch buffers are reused and shrunk).
    check("not happy", Negative);
}

/// Timing: `cargo test --release -p wismo-core --test sentiment -- --ignored --nocapture`
#[test]
#[ignore]
fn timing_per_message() {
    let messages = [
        "where is my order? I ordered it ten days ago and the tracking page shows nothing",
        "third time asking where my order is, this is ridiculous",
        "thank you so much!! 😊 it arrived early and my daughter loves the jacket",
        "Hi, I placed order #10452 last week and haven't received any update",
        "WHERE IS MY ORDER I PAID FOR EXPRESS SHIPPING TWO WEEKS AGO",
        "not happy with the service at all, been waiting for two weeks",
        "the package arrived in perfect condition, great job guys",
        "hi, can I change my shipping address please? I moved last week to a new flat",
        "smh still nothing, I'm going to file a chargeback",
        "good product but the delivery was extremely late",
        "omg you're a lifesaver, tysm ❤️",
        "is it possible to get a refund for the damaged item?",
        "no problem, take your time, I just wanted to check that it was shipped",
        "Where the hell is my package?? It's been a week!!",
        "I'm sooo happy with my order, will definitely buy again",
        "the tracking says delivered but I never got it 😡",
        "hello?? anyone there??? I have been on this chat for half an hour",
        "your customer service is useless and nobody answers",
        "Ok thanks, have a nice day",
        "it's kinda slow but the quality is really good",
        "I'd like to return the blue sweater, it doesn't fit",
        "still waiting for my refund, this is unacceptable",
        "Great, that solved it :)",
        "what is the status of order 55512, it was supposed to arrive on monday",
        "I'm not impressed, the box was crushed and one item is missing",
        "thx for the quick reply 👍",
        "this store is a scam, never again",
        "Although it arrived late, the quality is excellent",
        "can you please check when it will be shipped",
        "omg thank you so much, you guys are amazing!!!",
    ];
    // Warm up (builds the lexicon).
    let mut sink = 0.0f32;
    for m in messages {
        sink += analyze(m).score;
    }
    let rounds = 20_000;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for m in messages {
            sink += std::hint::black_box(analyze(std::hint::black_box(m))).score;
        }
    }
    let elapsed = start.elapsed();
    let n = rounds * messages.len();
    let words: usize = messages.iter().map(|m| m.split_whitespace().count()).sum();
    println!(
        "sentiment: {n} messages in {elapsed:?}: {:.3} µs/message (mean {:.1} words), sink {sink}",
        elapsed.as_secs_f64() * 1e6 / n as f64,
        words as f64 / messages.len() as f64
    );
}
