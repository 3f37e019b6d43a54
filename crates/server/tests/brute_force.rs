//! A sign-in brute force and a lockout attempt.
//!
//! 1,000 wrong guesses against one number, even from 1,000 different addresses (a botnet
//! behind a trusted proxy) holding challenges for codes they asked for themselves, get
//! nobody signed in, and at most 4 guesses per code are ever compared with one (the 5th
//! burns it), with at most 10 codes a day for the number; the person's own code, asked for
//! under their own challenge, cannot even be guessed at.
//!
//! A stranger on one address who asks for every code they may and burns each one cannot
//! keep the person, on another address, from signing in at once; strangers on two or more
//! addresses can hold the number's daily codes — for at most a day per round.

mod common;

use common::*;
use hush_shared::limits::{CODE_SENDS_PER_NUMBER_PER_ADDRESS_PER_DAY, CODE_SENDS_PER_NUMBER_PER_DAY};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn from(app: &TestApp, ip: &str, path: &str, body: Value) -> Reply {
    app.call_with(Method::POST, path, None, Some(body), &[("x-forwarded-for", ip)]).await
}

#[tokio::test]
async fn a_thousand_guesses_sign_nobody_in() {
    let app = TestApp::spawn_with(&["--trust-forwarded-for"]).await;
    let target = phone(42);
    let persons_code = app.request_code(&target).await;
    let mut attackers: Vec<(String, String)> = Vec::new(); // (challenge, code) they asked for
    let (mut compared, mut refused, mut signed_in) = (0, 0, 0);
    for guess in 0..1000u32 {
        // Each guess from its own address; codes asked for whenever the number allows.
        let ip = format!("10.{}.{}.{}", guess / 65536, (guess / 256) % 256, guess % 256);
        if guess % 50 == 0 {
            let r = from(&app, &ip, "/api/v1/auth/code", json!({ "phone": target })).await;
            if r.status == StatusCode::ACCEPTED {
                attackers.push((r.body["challenge"].as_str().unwrap().to_owned(), app.last_code(&target).unwrap()));
            }
            app.clock.advance(31);
        }
        let code = format!("{:06}", (guess * 7919 + 13) % 1_000_000);
        // Against the newest code the attacker asked for; every 10th guess against the
        // person's code, whose challenge the attacker does not have.
        let challenge = match attackers.last() {
            Some((challenge, _)) if guess % 10 != 0 => challenge.clone(),
            _ => "AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        };
        if code == persons_code || attackers.iter().any(|(_, real)| *real == code) {
            continue; // we test wrong guesses; a lucky hit is 1 in a million per try
        }
        let body = json!({ "phone": target, "challenge": challenge, "code": code });
        let r = from(&app, &ip, "/api/v1/auth/verify", body).await;
        match r.code() {
            "" if r.status.is_success() => signed_in += 1,
            "invalid_code" => compared += 1,
            "too_many_attempts" | "code_expired" | "rate_limited" => refused += 1,
            other => panic!("unexpected answer {other}: {:?}", r.body),
        }
    }
    eprintln!(
        "brute force: 1000 guesses, {compared} compared with a code, {refused} refused by limits, {signed_in} signed in"
    );
    assert_eq!(signed_in, 0);
    let codes_sent = attackers.len();
    assert!(codes_sent <= CODE_SENDS_PER_NUMBER_PER_DAY as usize, "{codes_sent} codes in a day for one number");
    assert!(compared <= 4 * codes_sent, "{compared} guesses were compared with a code");
    assert!(refused >= 1000 - 4 * codes_sent - codes_sent * 2, "{refused} refused");
    // The console provider's deliberate line is the only place codes were written.
    assert!(app.sms_lines.lock().unwrap().iter().all(|l| l.starts_with(&format!("SMS to {target}: "))));
}

/// How long a stranger can keep a person from signing in, measured: from one address, not
/// at all; from several, until the number's daily codes come free again (at most a day).
#[tokio::test]
async fn a_stranger_cannot_keep_a_person_from_signing_in() {
    let app = TestApp::spawn_with(&["--trust-forwarded-for"]).await;
    let target = phone(43);
    let (stranger, person) = ("198.51.100.7", "203.0.113.9");

    // The stranger asks for every code one address may have and burns each with 5 wrong
    // guesses, and guesses at codes they did not ask for (the person's, to come).
    let mut asked = 0;
    for _ in 0..CODE_SENDS_PER_NUMBER_PER_ADDRESS_PER_DAY + 2 {
        let r = from(&app, stranger, "/api/v1/auth/code", json!({ "phone": target })).await;
        if r.status == StatusCode::ACCEPTED {
            asked += 1;
            let challenge = r.body["challenge"].as_str().unwrap();
            for _ in 0..5 {
                let wrong = json!({ "phone": target, "challenge": challenge, "code": "000000" });
                from(&app, stranger, "/api/v1/auth/verify", wrong).await;
            }
        }
        app.clock.advance(31);
    }
    assert_eq!(asked, CODE_SENDS_PER_NUMBER_PER_ADDRESS_PER_DAY, "one address gets its share of the codes");

    // The person, on their own address, gets a code at once and signs in with it, although
    // the stranger keeps guessing (without the person's challenge, nothing they send touches
    // the person's code).
    let r = from(&app, person, "/api/v1/auth/code", json!({ "phone": target })).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let challenge = r.body["challenge"].as_str().unwrap().to_owned();
    let code = app.last_code(&target).unwrap();
    for guess in ["111111", "222222", "333333", "444444", "555555", "666666"] {
        let noise = json!({ "phone": target, "challenge": "BBBBBBBBBBBBBBBBBBBBBB", "code": guess });
        assert_eq!(from(&app, stranger, "/api/v1/auth/verify", noise).await.code(), "code_expired");
    }
    let r = from(&app, person, "/api/v1/auth/verify", json!({ "phone": target, "challenge": challenge, "code": code }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "the person signs in: locked out for 0 s. {:?}", r.body);

    // A second stranger address takes the rest of the number's codes for the day: then the
    // person waits, and is told how long — at most a day.
    let mut second = 0;
    for _ in 0..CODE_SENDS_PER_NUMBER_PER_ADDRESS_PER_DAY {
        app.clock.advance(31);
        if from(&app, "198.51.100.8", "/api/v1/auth/code", json!({ "phone": target })).await.status
            == StatusCode::ACCEPTED
        {
            second += 1;
        }
    }
    assert_eq!(asked + second + 1, CODE_SENDS_PER_NUMBER_PER_DAY, "the number's codes for the day are taken");
    app.clock.advance(31);
    let r = from(&app, person, "/api/v1/auth/code", json!({ "phone": target })).await;
    assert_eq!(r.code(), "rate_limited");
    let wait = r.body["retry_after"].as_u64().unwrap();
    assert!(wait <= 86_400, "the person waits at most a day: {wait} s");
    eprintln!("lockout: one stranger address: 0 s; two: {wait} s until the number's next code");
}
