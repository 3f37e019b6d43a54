//! Backup and restore of the embedded store, as the README describes it: `hush-server
//! --backup-to DIR` while the server runs, then a server started on a data directory made
//! of the backup's files has the accounts, sessions, friendships and waiting messages of
//! the moment of the backup, and nothing written after it.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::ServerProcess;
use common::*;
use hush_client::{Body, Event, Status};

fn backup(data_dir: &std::path::Path, target: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hush-server"))
        .env_clear()
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--backup-to")
        .arg(target)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_backup_taken_while_running_restores_accounts_and_waiting_messages() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), "127.0.0.1:0", &[]);
    let mut alice = Chatter::new(server.sign_in(&phone(1)).await, &server.url);
    let mut bob = Chatter::new(server.sign_in(&phone(2)).await, &server.url);
    befriend_chatters(&server.url, &mut alice, &mut bob).await;
    alice.connect(&server.ws_url()).await;
    let wait = Duration::from_secs(20);
    for text in ["one", "two", "three"] {
        alice.client.send_text(bob.id, text).await.unwrap();
    }
    assert!(alice.client.run_until(wait, |c| outgoing_all(c, 3, Status::Stored)).await.unwrap());

    let backups = tempfile::tempdir().unwrap();
    let target = backups.path().join("hush-backup");
    let out = backup(data.path(), &target);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    alice.client.send_text(bob.id, "after the backup").await.unwrap();
    assert!(alice.client.run_until(wait, |c| outgoing_all(c, 4, Status::Stored)).await.unwrap());
    let again = backup(data.path(), &target);
    assert!(!again.status.success(), "an existing backup is never overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    server.kill9();

    let restored = tempfile::tempdir().unwrap();
    for file in ["hush.db", "hush.db-sends", "jwt_secret"] {
        std::fs::copy(target.join(file), restored.path().join(file)).unwrap();
    }
    let server = ServerProcess::start(restored.path(), "127.0.0.1:0", &[]);
    bob.connect(&server.ws_url()).await;
    assert!(bob.client.run_until(wait, |c| c.events.contains(&Event::CaughtUp)).await.unwrap());
    let texts: Vec<String> = bob
        .received()
        .into_iter()
        .map(|m| match m.body {
            Body::Text { text } => text,
            other => panic!("not opened: {other:?}"),
        })
        .collect();
    assert_eq!(texts, ["one", "two", "three"], "the session, the friendship and the mailbox came back");
}
