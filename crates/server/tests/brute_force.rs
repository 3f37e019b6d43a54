//! A sign-in brute force: 1,000 wrong guesses against one number, even from 1,000
//! different addresses (a botnet behind a trusted proxy), get nobody signed in, and at most
//! 25 of them are ever compared with a code (5 codes an hour × 5 tries each); the rest are
//! refused by the attempt and rate limits before any comparison.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_thousand_guesses_sign_nobody_in() {
    let app = TestApp::spawn_with(&["--trust-forwarded-for"]).await;
    let target = phone(42);
    let mut real_codes = vec![app.request_code(&target).await];
    let (mut compared, mut refused, mut signed_in) = (0, 0, 0);
    for guess in 0..1000u32 {
        // Each guess from its own address; codes re-requested whenever the number allows.
        let ip = format!("10.{}.{}.{}", guess / 65536, (guess / 256) % 256, guess % 256);
        if guess % 50 == 0 {
            let r = app
                .call_with(
                    Method::POST,
                    "/api/v1/auth/code",
                    None,
                    Some(json!({ "phone": target })),
                    &[("x-forwarded-for", &ip)],
                )
                .await;
            if r.status == reqwest::StatusCode::ACCEPTED {
                real_codes.push(app.last_code(&target).unwrap());
            }
            app.clock.advance(31);
        }
        let code = format!("{:06}", (guess * 7919 + 13) % 1_000_000);
        if real_codes.contains(&code) {
            continue; // we test wrong guesses; a lucky hit is 1 in a million per try
        }
        let r = app
            .call_with(
                Method::POST,
                "/api/v1/auth/verify",
                None,
                Some(json!({ "phone": target, "code": code })),
                &[("x-forwarded-for", &ip)],
            )
            .await;
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
    let codes_sent = real_codes.len();
    assert!(codes_sent <= 5, "at most 5 codes an hour for one number, got {codes_sent}");
    assert!(compared <= 4 * codes_sent, "{compared} guesses were compared with a code");
    assert!(refused >= 1000 - 4 * codes_sent - codes_sent * 2, "{refused} refused");
    // The console provider's deliberate line is the only place codes were written.
    assert!(app.sms_lines.lock().unwrap().iter().all(|l| l.starts_with(&format!("SMS to {target}: "))));
}
