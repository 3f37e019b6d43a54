//! One conformance suite for the store traits, run against every backend: always on the
//! embedded SQLite store; on Redis (mailbox, one-time prekeys, rate limits) against a real
//! `redis-server` started here; on MongoDB (accounts, sessions, codes, friendships,
//! devices) when `MONGODB_URI` is set — otherwise it says SKIPPED, loudly, and checks
//! nothing it could not reach.

mod common;

use hush_server::service::friends::request_rule;
use hush_server::store::mongo::MongoStore;
use hush_server::store::redis::RedisStore;
use hush_server::store::sqlite::SqliteStore;
use hush_server::store::*;
use hush_shared::ws::ReceiptKind;
use hush_shared::{DeviceId, FriendRequestId, UserId};
use std::sync::Arc;
use uuid::Uuid;

const NOW: i64 = 1_800_000_000;

fn unique_phone() -> String {
    format!("+1650{:07}", Uuid::new_v4().as_u128() % 10_000_000)
}

async fn accounts_and_sessions(accounts: &dyn AccountStore, sessions: &dyn SessionStore) {
    let phone = unique_phone();
    let (alice, created) = accounts.find_or_create(&phone, NOW).await.unwrap();
    assert!(created);
    let (again, created) = accounts.find_or_create(&phone, NOW + 5).await.unwrap();
    assert_eq!((again.id, created), (alice.id, false));
    assert_eq!(accounts.get(alice.id).await.unwrap().unwrap().phone, phone);
    assert_eq!(accounts.find_by_phone(&phone).await.unwrap().unwrap().id, alice.id);
    assert_eq!(
        accounts.set_display_name(alice.id, "Alice").await.unwrap().unwrap().display_name.as_deref(),
        Some("Alice")
    );
    assert!(accounts.set_display_name(UserId::new(), "Nobody").await.unwrap().is_none());

    let session = Uuid::new_v4();
    let (h1, h2, h3) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let h1 = {
        let mut h = h1;
        h[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        h
    };
    let h2 = {
        let mut h = h2;
        h[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        h
    };
    let h3 = {
        let mut h = h3;
        h[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        h
    };
    sessions.create(session, alice.id, h1, NOW, NOW + 100).await.unwrap();
    assert_eq!(sessions.active_user(session).await.unwrap(), Some(alice.id));
    assert_eq!(
        sessions.rotate(h1, h2, NOW + 1, NOW + 200).await.unwrap(),
        RotateOutcome::Rotated { session, user: alice.id }
    );
    assert_eq!(sessions.rotate(h3, h3, NOW + 1, NOW + 200).await.unwrap(), RotateOutcome::Invalid, "unknown token");
    assert_eq!(sessions.rotate(h2, h3, NOW + 300, NOW + 400).await.unwrap(), RotateOutcome::Invalid, "expired token");
    assert_eq!(
        sessions.rotate(h1, h3, NOW + 2, NOW + 200).await.unwrap(),
        RotateOutcome::ReuseDetected { session, user: alice.id }
    );
    assert_eq!(sessions.active_user(session).await.unwrap(), None, "reuse revokes the session");

    let other = Uuid::new_v4();
    let h4 = {
        let mut h = [4u8; 32];
        h[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        h
    };
    sessions.create(other, alice.id, h4, NOW, NOW + 100).await.unwrap();
    sessions.revoke(other, NOW).await.unwrap();
    assert_eq!(sessions.active_user(other).await.unwrap(), None);
    assert!(accounts.delete(alice.id).await.unwrap());
    assert!(!accounts.delete(alice.id).await.unwrap());
    assert!(accounts.get(alice.id).await.unwrap().is_none());
}

async fn codes(codes: &dyn CodeStore) {
    let phone = unique_phone();
    let slot = CodeSlot { phone: phone.clone(), challenge: "attempt-one".into() };
    let (right, wrong) = ([7u8; 32], [8u8; 32]);
    assert_eq!(codes.check(&slot, right, NOW, 5).await.unwrap(), CodeCheck::Missing);
    codes.put(&slot, right, NOW, NOW + 600).await.unwrap();
    for remaining in (1..=4).rev() {
        assert_eq!(codes.check(&slot, wrong, NOW, 5).await.unwrap(), CodeCheck::Wrong { remaining });
    }
    assert_eq!(codes.check(&slot, wrong, NOW, 5).await.unwrap(), CodeCheck::Burned);
    assert_eq!(codes.check(&slot, right, NOW, 5).await.unwrap(), CodeCheck::Missing);
    codes.put(&slot, right, NOW, NOW + 600).await.unwrap();
    assert_eq!(codes.check(&slot, right, NOW, 5).await.unwrap(), CodeCheck::Accepted);
    assert_eq!(codes.check(&slot, right, NOW, 5).await.unwrap(), CodeCheck::Missing, "single use");
    codes.put(&slot, right, NOW, NOW + 600).await.unwrap();
    assert_eq!(codes.check(&slot, right, NOW + 600, 5).await.unwrap(), CodeCheck::Missing, "expired");

    // Two attempts for one number keep their own codes: burning one leaves the other, and a
    // new code in one slot does not replace the other's.
    let other = CodeSlot { phone: phone.clone(), challenge: "attempt-two".into() };
    codes.put(&slot, right, NOW, NOW + 600).await.unwrap();
    codes.put(&other, [9u8; 32], NOW, NOW + 600).await.unwrap();
    for _ in 0..5 {
        codes.check(&other, wrong, NOW, 5).await.unwrap();
    }
    assert_eq!(codes.check(&other, [9u8; 32], NOW, 5).await.unwrap(), CodeCheck::Missing, "burned");
    assert_eq!(codes.check(&slot, right, NOW, 5).await.unwrap(), CodeCheck::Accepted, "the other attempt's code");

    // Guesses in parallel each use up one of the five attempts: no more than five are
    // compared (the right one sent along with twenty wrong ones wins only if it is among them).
    codes.put(&slot, right, NOW, NOW + 600).await.unwrap();
    let guesses = (0..20).map(|_| codes.check(&slot, wrong, NOW, 5)).chain([codes.check(&slot, right, NOW, 5)]);
    let outcomes: Vec<CodeCheck> =
        futures_util::future::join_all(guesses).await.into_iter().map(Result::unwrap).collect();
    let compared = outcomes.iter().filter(|o| **o != CodeCheck::Missing).count();
    assert!(compared <= 5, "{compared} guesses compared: {outcomes:?}");
    assert_eq!(codes.check(&slot, right, NOW, 5).await.unwrap(), CodeCheck::Missing, "burned or used");
}

async fn rate_limits(limits: &dyn RateLimitStore) {
    let key = format!("conformance:{}", Uuid::new_v4());
    let rules = [
        RateRule { key: key.clone(), limit: 1, window_secs: 30 },
        RateRule { key: key.clone(), limit: 3, window_secs: 3600 },
    ];
    assert_eq!(limits.hit(&rules, NOW).await.unwrap(), Ok(()));
    assert_eq!(limits.hit(&rules, NOW + 10).await.unwrap(), Err(20));
    assert_eq!(limits.hit(&rules, NOW + 30).await.unwrap(), Ok(()));
    assert_eq!(limits.hit(&rules, NOW + 60).await.unwrap(), Ok(()));
    assert_eq!(limits.hit(&rules, NOW + 90).await.unwrap(), Err(3600 - 90));
    assert_eq!(limits.hit(&rules, NOW + 3600).await.unwrap(), Ok(()));
}

async fn social(accounts: &dyn AccountStore, social: &dyn SocialStore) {
    let (a, _) = accounts.find_or_create(&unique_phone(), NOW).await.unwrap();
    let (b, _) = accounts.find_or_create(&unique_phone(), NOW).await.unwrap();
    let (c, _) = accounts.find_or_create(&unique_phone(), NOW).await.unwrap();
    let request =
        |from: UserId, to: UserId| FriendRequestRecord { id: FriendRequestId::new(), from, to, created_at: NOW };

    assert_eq!(
        social.create_request(request(a.id, UserId::new()), request_rule).await.unwrap(),
        Err(RequestRefusal::UnknownUser)
    );
    let first = request(a.id, b.id);
    assert_eq!(social.create_request(first.clone(), request_rule).await.unwrap(), Ok(RequestDelivery::Shown));
    assert_eq!(
        social.create_request(request(a.id, b.id), request_rule).await.unwrap(),
        Err(RequestRefusal::AlreadySent)
    );
    assert_eq!(
        social.create_request(request(b.id, a.id), request_rule).await.unwrap(),
        Err(RequestRefusal::IncomingExists)
    );
    let (incoming, outgoing) = social.list_requests(b.id).await.unwrap();
    assert_eq!((incoming.len(), outgoing.len()), (1, 0));
    assert_eq!(incoming[0].request, first);
    assert!(social.accept_request(first.id, a.id, NOW).await.unwrap().is_none(), "only the recipient accepts");
    assert_eq!(social.accept_request(first.id, b.id, NOW).await.unwrap(), Some(first.clone()));
    assert!(social.are_friends(a.id, b.id).await.unwrap());
    let no_devices_yet = SendRoute { recipient: vec![], sender: vec![] };
    assert_eq!(social.send_route(a.id, b.id).await.unwrap(), Some(no_devices_yet));
    assert_eq!(social.send_route(a.id, c.id).await.unwrap(), None, "not friends: no route");
    let seen_by_a = social.friend(a.id, b.id).await.unwrap().unwrap();
    assert_eq!((seen_by_a.user_id, seen_by_a.since), (b.id, NOW));
    assert_eq!(social.list_friends(b.id).await.unwrap().len(), 1);
    assert_eq!(social.friend_ids(a.id).await.unwrap(), vec![b.id]);
    assert_eq!(
        social.create_request(request(b.id, a.id), request_rule).await.unwrap(),
        Err(RequestRefusal::AlreadyFriends)
    );
    assert!(social.list_requests(a.id).await.unwrap().1.is_empty());

    assert!(social.friend(a.id, c.id).await.unwrap().is_none());

    let to_c = request(a.id, c.id);
    assert_eq!(social.create_request(to_c.clone(), request_rule).await.unwrap(), Ok(RequestDelivery::Shown));
    assert!(social.delete_request(to_c.id, c.id, RequestSide::Requester).await.unwrap().is_none());
    assert_eq!(social.delete_request(to_c.id, a.id, RequestSide::Requester).await.unwrap(), Some(to_c));

    assert!(social.unfriend(b.id, a.id).await.unwrap());
    assert!(!social.unfriend(b.id, a.id).await.unwrap());
    assert!(!social.are_friends(a.id, b.id).await.unwrap());
    assert_eq!(social.send_route(b.id, a.id).await.unwrap(), None, "unfriended: no route");
    assert_eq!(social.send_route(a.id, b.id).await.unwrap(), None, "a route read before is not used after");

    assert_eq!(social.create_request(request(c.id, a.id), request_rule).await.unwrap(), Ok(RequestDelivery::Shown));
    assert!(social.block(a.id, c.id, NOW).await.unwrap());
    assert!(social.list_requests(a.id).await.unwrap().0.is_empty(), "a block drops pending requests");
    // Carol, blocked, is not told so: her request is kept pending for her and withheld
    // from Alice (not listed, cannot be accepted), and goes when the block is lifted.
    let withheld = request(c.id, a.id);
    assert_eq!(social.create_request(withheld.clone(), request_rule).await.unwrap(), Ok(RequestDelivery::Withheld));
    assert_eq!(
        social.create_request(request(c.id, a.id), request_rule).await.unwrap(),
        Err(RequestRefusal::AlreadySent)
    );
    assert_eq!(social.list_requests(c.id).await.unwrap().1.len(), 1, "pending, as far as Carol can tell");
    assert!(social.list_requests(a.id).await.unwrap().0.is_empty(), "withheld from Alice");
    assert!(social.accept_request(withheld.id, a.id, NOW).await.unwrap().is_none());
    assert_eq!(social.create_request(request(a.id, c.id), request_rule).await.unwrap(), Err(RequestRefusal::Blocked));
    assert!(!social.block(a.id, UserId::new(), NOW).await.unwrap());
    assert!(social.unblock(a.id, c.id).await.unwrap());
    assert!(!social.unblock(a.id, c.id).await.unwrap());
    assert!(social.list_requests(c.id).await.unwrap().1.is_empty(), "the withheld request went with the block");
    assert_eq!(social.create_request(request(c.id, a.id), request_rule).await.unwrap(), Ok(RequestDelivery::Shown));

    // Deleting an account removes its side of everything.
    let d = request(b.id, c.id);
    assert_eq!(social.create_request(d, request_rule).await.unwrap(), Ok(RequestDelivery::Shown));
    assert!(accounts.delete(c.id).await.unwrap());
    assert!(social.list_requests(a.id).await.unwrap().0.is_empty());
    assert!(social.list_requests(b.id).await.unwrap().1.is_empty());
}

/// A block, an unfriend or a deleted account: what waits between the two people goes from
/// every mailbox of each; what waits from others, and my copies of my own messages, stay.
async fn purge(store: &dyn MailboxStore) {
    let (alice, bob, carol) = (UserId::new(), UserId::new(), UserId::new());
    let device = |user| Mailbox { user, device: DeviceId::new() };
    let (a1, a2, b1, c1) = (device(alice), device(alice), device(bob), device(carol));
    for mailbox in [a1, a2, b1, c1] {
        store.open_mailbox(mailbox).await.unwrap();
    }
    let policy = MailboxPolicy { max_messages: 10, ttl_secs: 1000 };
    let (to_bob, to_alice, from_carol) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    store.enqueue_many(a1, vec![message(bob, to_bob, &[b1, a2], &[2, 2, 1])], NOW, policy).await.unwrap();
    store.enqueue_many(b1, vec![message(alice, to_alice, &[a1, a2], &[2, 2, 2])], NOW, policy).await.unwrap();
    store.enqueue_many(c1, vec![message(bob, from_carol, &[b1], &[2, 2, 3])], NOW, policy).await.unwrap();
    store.read_messages(b1, carol, &[from_carol], NOW).await.unwrap();
    store.ack_messages(a1, &named(store, a1, bob, &[to_alice]).await, NOW).await.unwrap(); // a delivered receipt for Bob about Alice
    store.purge_between(alice, bob).await.unwrap();
    assert_eq!(store.depth(a1).await.unwrap(), 0);
    let mine: Vec<Uuid> = store.fetch_messages(a2, 0, 10).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(mine, vec![to_bob], "my copy of my own message stays; Bob's to me goes");
    let left: Vec<Uuid> = store.fetch_messages(b1, 0, 10).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(left, vec![from_carol], "Carol's message stays");
    assert!(receipts_of(store, b1).await.iter().all(|(_, _, peer)| *peer != alice), "receipts about Alice go");
    assert_eq!(receipts_of(store, c1).await.len(), 1, "Carol's read receipt stays");
}

/// `sender`'s messages `ids` waiting in `mailbox`, as an ack or retry names them: with the
/// `seq` each was read at.
async fn named(store: &dyn MailboxStore, mailbox: Mailbox, sender: UserId, ids: &[Uuid]) -> Vec<MessageRef> {
    let waiting = store.fetch_messages(mailbox, 0, 100_000).await.unwrap();
    let by_id: std::collections::HashMap<Uuid, i64> =
        waiting.iter().filter(|m| m.from == sender).map(|m| (m.id, m.seq)).collect();
    ids.iter().filter_map(|id| by_id.get(id).map(|&seq| MessageRef { sender, id: *id, seq })).collect()
}

/// Two senders may choose the same message id (ids are the senders'): both messages wait,
/// neither overwrites the other, and an ack takes only the sender's own.
async fn same_id_from_two_senders(store: &dyn MailboxStore) {
    let (alice, bob, carol) = (UserId::new(), UserId::new(), UserId::new());
    let device = |user| Mailbox { user, device: DeviceId::new() };
    let (a1, b1, c1) = (device(alice), device(bob), device(carol));
    for mailbox in [a1, b1, c1] {
        store.open_mailbox(mailbox).await.unwrap();
    }
    let policy = MailboxPolicy { max_messages: 10, ttl_secs: 1000 };
    let shared = Uuid::now_v7();
    store.enqueue_many(a1, vec![message(bob, shared, &[b1], &[2, 2, 1])], NOW, policy).await.unwrap();
    store.enqueue_many(c1, vec![message(bob, shared, &[b1], &[2, 2, 3])], NOW, policy).await.unwrap();
    let waiting = store.fetch_messages(b1, 0, 10).await.unwrap();
    let seen: Vec<(Uuid, UserId, Vec<u8>)> = waiting.iter().map(|m| (m.id, m.from, m.envelope.clone())).collect();
    assert_eq!(seen, vec![(shared, alice, vec![2, 2, 1]), (shared, carol, vec![2, 2, 3])], "both wait");
    let (carols, alices) = (named(store, b1, carol, &[shared]).await, named(store, b1, alice, &[shared]).await);
    assert_eq!((carols.len(), alices.len()), (1, 1));
    assert_eq!(store.ack_messages(b1, &carols, NOW).await.unwrap(), vec![carol]);
    let left: Vec<UserId> = store.fetch_messages(b1, 0, 10).await.unwrap().iter().map(|m| m.from).collect();
    assert_eq!(left, vec![alice], "Carol's ack of her id leaves Alice's message");
    assert!(receipts_of(store, a1).await.is_empty(), "and tells Alice nothing");
    assert_eq!(store.retry_messages(b1, &carols, NOW).await.unwrap(), vec![], "gone already");
    assert_eq!(store.ack_messages(b1, &alices, NOW).await.unwrap(), vec![alice]);
    assert_eq!(store.depth(b1).await.unwrap(), 0);
}

/// A mailbox keeps the newest [`RECEIPTS_KEPT_PER_MAILBOX`] receipts, after a sweep at the
/// latest: Bob acks more messages than that from Alice, and her device finds the newest.
async fn receipt_quota(store: &dyn MailboxStore) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let (a1, b1) = (Mailbox { user: alice, device: DeviceId::new() }, Mailbox { user: bob, device: DeviceId::new() });
    store.open_mailbox(a1).await.unwrap();
    store.open_mailbox(b1).await.unwrap();
    let over = 5;
    let policy = MailboxPolicy { max_messages: (RECEIPTS_KEPT_PER_MAILBOX + over) as u32, ttl_secs: 1000 };
    let ids: Vec<Uuid> = (0..RECEIPTS_KEPT_PER_MAILBOX + over).map(|_| Uuid::now_v7()).collect();
    for chunk in ids.chunks(2_000) {
        let batch = chunk.iter().map(|&id| message(bob, id, &[b1], &[2, 2, 1])).collect();
        store.enqueue_many(a1, batch, NOW, policy).await.unwrap();
        let acked = named(store, b1, alice, chunk).await;
        assert_eq!(acked.len(), chunk.len());
        store.ack_messages(b1, &acked, NOW).await.unwrap();
    }
    store.expire(NOW, 1000, 100).await.unwrap();
    let kept = store.fetch_receipts(a1, 0, RECEIPTS_KEPT_PER_MAILBOX + over).await.unwrap();
    assert_eq!(kept.len(), RECEIPTS_KEPT_PER_MAILBOX);
    assert_eq!(kept.first().unwrap().message_id, ids[over], "the oldest went");
    assert_eq!(kept.last().unwrap().message_id, *ids.last().unwrap());
}

/// Copies expire oldest first, at most `limit` a call, each when its own time is due: the
/// newer copies of a mailbox wait, and a mailbox whose oldest copy was acked still has its
/// later ones expired on time.
async fn expiry_in_order_and_by_limit(store: &dyn MailboxStore) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let (a1, b1) = (Mailbox { user: alice, device: DeviceId::new() }, Mailbox { user: bob, device: DeviceId::new() });
    store.open_mailbox(a1).await.unwrap();
    store.open_mailbox(b1).await.unwrap();
    // Later than anything the other checks left, which goes first.
    let start = NOW + 10_000_000;
    store.expire(start, 0, 100_000).await.unwrap();
    let policy = MailboxPolicy { max_messages: 10, ttl_secs: 100 };
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    for (i, &id) in ids.iter().enumerate() {
        store.enqueue_many(a1, vec![message(bob, id, &[b1], &[2, 2, 1])], start + 10 * i as i64, policy).await.unwrap();
    }
    let waiting = || async { store.fetch_messages(b1, 0, 10).await.unwrap().iter().map(|m| m.id).collect::<Vec<_>>() };
    let first = named(store, b1, alice, &ids[..1]).await;
    store.ack_messages(b1, &first, start).await.unwrap();
    store.flush().await.unwrap();
    // Due at start + 100 + 10 i: at start + 125 the second and third are, one a call.
    assert_eq!(store.expire(start + 125, 100, 1).await.unwrap(), vec![alice]);
    assert_eq!(waiting().await, ids[2..].to_vec());
    assert_eq!(store.expire(start + 125, 100, 1).await.unwrap(), vec![alice]);
    assert_eq!(store.expire(start + 125, 100, 10).await.unwrap(), vec![], "the fourth is not due");
    assert_eq!(waiting().await, ids[3..].to_vec());
    assert_eq!(store.total_depth().await.unwrap(), 1);
    assert_eq!(store.expire(start + 130, 100, 10).await.unwrap(), vec![alice]);
    assert_eq!((store.depth(b1).await.unwrap(), store.total_depth().await.unwrap()), (0, 0));
    let expired: Vec<Uuid> =
        receipts_of(store, a1).await.into_iter().filter(|r| r.0 == ReceiptKind::Expired).map(|r| r.1).collect();
    assert_eq!(expired, ids[1..].to_vec());
}

fn message(to: UserId, id: Uuid, copies: &[Mailbox], envelope: &[u8]) -> Outgoing {
    let copies = copies.iter().map(|&mailbox| EnvelopeCopy { mailbox, envelope: envelope.to_vec() }).collect();
    Outgoing { to, id, copies }
}

/// A receipt as an ack names it.
fn receipt_ref(receipt: &StoredReceipt) -> ReceiptRef {
    ReceiptRef { id: receipt.id, seq: receipt.seq }
}

/// (kind, message id, peer) of every receipt in a mailbox, from the start.
async fn receipts_of(store: &dyn MailboxStore, mailbox: Mailbox) -> Vec<(ReceiptKind, Uuid, UserId)> {
    let receipts = store.fetch_receipts(mailbox, 0, 100).await.unwrap();
    receipts.iter().map(|r| (r.kind, r.message_id, r.peer)).collect()
}

/// An ack of several copies at once, out of their order and naming one twice, deletes each
/// named and queues one `delivered` receipt per message, in the order they were first named.
async fn several_acked_at_once(store: &dyn MailboxStore) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let (a1, b1) = (Mailbox { user: alice, device: DeviceId::new() }, Mailbox { user: bob, device: DeviceId::new() });
    for mailbox in [a1, b1] {
        store.open_mailbox(mailbox).await.unwrap();
    }
    let policy = MailboxPolicy { max_messages: 100, ttl_secs: 3600 };
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let batch = ids.iter().map(|&id| message(bob, id, &[b1], b"hi")).collect();
    store.enqueue_many(a1, batch, NOW, policy).await.unwrap();
    let waiting = named(store, b1, alice, &ids).await;
    let acked = [waiting[2], waiting[0], waiting[1], waiting[0]];
    assert_eq!(store.ack_messages(b1, &acked, NOW + 1).await.unwrap(), vec![alice]);
    let delivered = [ids[2], ids[0], ids[1]].map(|id| (ReceiptKind::Delivered, id, bob));
    assert_eq!(receipts_of(store, a1).await, delivered);
    let left: Vec<Uuid> = store.fetch_messages(b1, 0, 10).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(left, [ids[3]], "the copy not acked waits");
}

/// Where a store says each copy went (`enqueue_placed`) is where a read finds it, and what
/// it names as the copy before is the copy a read finds just before it (or the start of the
/// mailbox, `seq` 0): a connection that read up to there can hand the copy out unread. A
/// resend of a message stored before places nothing. Every copy after the first of each
/// mailbox here is placed with the copy before it.
async fn placements(store: &dyn MailboxStore) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let device = |user| Mailbox { user, device: DeviceId::new() };
    let (a1, a2, b1, b2) = (device(alice), device(alice), device(bob), device(bob));
    for mailbox in [a2, b1, b2] {
        store.open_mailbox(mailbox).await.unwrap();
    }
    let policy = MailboxPolicy { max_messages: 100, ttl_secs: 3600 };
    let first = Uuid::now_v7();
    let (_, mut placed) =
        store.enqueue_placed(a1, vec![message(bob, first, &[b1], b"one")], NOW, policy).await.unwrap();
    let batch = vec![
        message(bob, Uuid::now_v7(), &[b1, b2, a2], b"two"),
        message(bob, first, &[b1], b"one"),
        message(bob, Uuid::now_v7(), &[b1], b"three"),
    ];
    let (stored, second) = store.enqueue_placed(a1, batch, NOW, policy).await.unwrap();
    assert!(matches!(stored[1], Enqueued::Duplicate { .. }));
    assert!(second.iter().all(|p| p.message != 1), "the resend is placed nowhere: {second:?}");
    placed.extend(second);
    for mailbox in [b1, b2, a2] {
        let read = store.fetch_messages(mailbox, 0, 100).await.unwrap();
        let mut before = 0;
        for (n, copy) in read.iter().enumerate() {
            let place = placed.iter().find(|p| p.mailbox == mailbox && p.seq == copy.seq);
            let place = place.unwrap_or_else(|| panic!("copy {n} of {mailbox:?} placed: {placed:?}"));
            match place.prev {
                Some(prev) => assert!(prev.holds(before), "{prev:?} names the copy before, at {before}"),
                None => assert_eq!(n, 0, "only a mailbox's first copy may come without the one before"),
            }
            before = copy.seq;
        }
        assert_eq!(read.len(), if mailbox == b1 { 3 } else { 1 });
    }
}

/// For a store that places receipts (Redis): where it says an ack's `delivered` receipt
/// went (`ack_messages_placed`) — one per device of the sender — is the receipt a read of
/// that mailbox finds, right after the receipt before it (or the start, `seq` 0). An ack of
/// a copy acked before places nothing.
async fn receipt_placements(store: &dyn MailboxStore) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let device = |user| Mailbox { user, device: DeviceId::new() };
    let (a1, a2, b1) = (device(alice), device(alice), device(bob));
    for mailbox in [a1, a2, b1] {
        store.open_mailbox(mailbox).await.unwrap();
    }
    let policy = MailboxPolicy { max_messages: 100, ttl_secs: 3600 };
    let mut acked = Vec::new();
    for text in [b"one", b"two", b"six"] {
        let id = Uuid::now_v7();
        store.enqueue_many(a1, vec![message(bob, id, &[b1, a2], text)], NOW, policy).await.unwrap();
        let copy = named(store, b1, alice, &[id]).await;
        let (told, placed) = store.ack_messages_placed(b1, &copy, NOW).await.unwrap();
        assert_eq!(told, vec![alice]);
        let mut mailboxes: Vec<Mailbox> = placed.iter().map(|p| p.mailbox).collect();
        mailboxes.sort_by_key(|m| m.device);
        let mut senders = vec![a1, a2];
        senders.sort_by_key(|m| m.device);
        assert_eq!(mailboxes, senders, "one receipt in each mailbox of the sender");
        for place in &placed {
            let read = store.fetch_receipts(place.mailbox, 0, 100).await.unwrap();
            let at = read.iter().position(|r| r.seq == place.receipt.seq).expect("read where it was placed");
            assert_eq!(read[at], place.receipt);
            assert_eq!(
                (place.receipt.kind, place.receipt.message_id, place.receipt.peer),
                (ReceiptKind::Delivered, id, bob)
            );
            let before = if at == 0 { 0 } else { read[at - 1].seq };
            assert!(place.prev.holds(before), "{:?} names the receipt before, at {before}", place.prev);
        }
        acked.extend(copy);
    }
    let (told, placed) = store.ack_messages_placed(b1, &acked[..1], NOW).await.unwrap();
    assert!(told.is_empty() && placed.is_empty(), "acked before: {told:?} {placed:?}");
}

/// Several devices per person: Alice (devices a1, a2) writes to Bob (b1, b2) from a1, so
/// every message has a copy for b1, b2 and Alice's other device a2.
async fn mailbox(store: &dyn MailboxStore) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let device = |user| Mailbox { user, device: DeviceId::new() };
    let (a1, a2, b1, b2) = (device(alice), device(alice), device(bob), device(bob));
    for mailbox in [a1, a2, b1, b2] {
        store.open_mailbox(mailbox).await.unwrap();
        store.open_mailbox(mailbox).await.unwrap(); // idempotent
    }
    let policy = MailboxPolicy { max_messages: 3, ttl_secs: 1000 };
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let env = |n: u8| vec![1u8, n, n, n];
    let send = |id: Uuid, n: u8, at: i64| {
        let batch = vec![message(bob, id, &[b1, b2, a2], &env(n))];
        async move { store.enqueue_many(a1, batch, at, policy).await.unwrap()[0] }
    };
    for (n, id) in ids.iter().take(3).enumerate() {
        assert_eq!(send(*id, n as u8, NOW + n as i64).await, Enqueued::Stored { at: NOW + n as i64 });
    }
    assert_eq!(send(ids[0], 9, NOW + 50).await, Enqueued::Duplicate { at: NOW });
    assert_eq!(send(ids[3], 3, NOW + 3).await, Enqueued::MailboxFull, "b1's mailbox is full");
    for mailbox in [b1, b2, a2] {
        assert_eq!(store.depth(mailbox).await.unwrap(), 3, "nothing of the refused message was stored");
    }
    assert_eq!(store.depth(a1).await.unwrap(), 0, "no copy for the sending device");
    assert_eq!(store.total_depth().await.unwrap(), 9);

    let first = store.fetch_messages(b1, 0, 2).await.unwrap();
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..2]);
    assert_eq!((first[0].from, first[0].to, first[0].envelope.clone(), first[0].stored_at), (alice, bob, env(0), NOW));
    assert_eq!(first[0].from_device, a1.device);
    let rest = store.fetch_messages(b1, first[1].seq, 10).await.unwrap();
    assert_eq!(rest.iter().map(|m| m.id).collect::<Vec<_>>(), ids[2..3]);
    let own = store.fetch_messages(a2, 0, 10).await.unwrap();
    assert_eq!(own.iter().map(|m| (m.id, m.from, m.to)).collect::<Vec<_>>()[0], (ids[0], alice, bob), "my sent copy");

    // Delivered once per message, for the first of Bob's devices; to both of Alice's.
    let on_b1 = named(store, b1, alice, &ids[..3]).await;
    assert_eq!(on_b1.len(), 3);
    assert_eq!(store.ack_messages(b1, &on_b1[..2], NOW + 10).await.unwrap(), vec![alice]);
    assert_eq!(store.ack_messages(b1, &on_b1[..2], NOW + 11).await.unwrap(), vec![], "acks are idempotent");
    let on_b2 = named(store, b2, alice, &ids[..2]).await;
    assert_eq!(on_b2.len(), 2);
    assert_eq!(store.ack_messages(b2, &on_b2, NOW + 12).await.unwrap(), vec![], "already delivered");
    assert_eq!(
        store.ack_messages(a2, &named(store, a2, alice, &ids[..2]).await, NOW + 12).await.unwrap(),
        vec![],
        "my own copy is no delivery"
    );
    assert_eq!(store.ack_messages(a1, &on_b1[2..3], NOW).await.unwrap(), vec![], "only a mailbox holding it acks");
    assert_eq!((store.depth(b1).await.unwrap(), store.depth(b2).await.unwrap()), (1, 1));
    assert_eq!(store.total_depth().await.unwrap(), 3);
    assert_eq!(send(ids[1], 1, NOW + 12).await, Enqueued::Duplicate { at: NOW + 1 }, "a resend after delivery");
    let delivered = vec![(ReceiptKind::Delivered, ids[0], bob), (ReceiptKind::Delivered, ids[1], bob)];
    assert_eq!(receipts_of(store, a1).await, delivered);
    assert_eq!(receipts_of(store, a2).await, delivered);
    assert!(receipts_of(store, b1).await.is_empty());

    // Read once per message: `read` for Alice's devices, `read_elsewhere` for Bob's others.
    let told = store.read_messages(b1, alice, &ids[..1], NOW + 20).await.unwrap();
    assert_eq!(told.len(), 2, "both people are told: {told:?}");
    assert_eq!(store.read_messages(b2, alice, &ids[..1], NOW + 21).await.unwrap(), vec![], "read already");
    let carol = device(UserId::new());
    assert_eq!(store.read_messages(carol, alice, &ids[1..2], NOW).await.unwrap(), vec![], "not Carol's message");
    assert_eq!(store.read_messages(b1, alice, &[Uuid::now_v7()], NOW).await.unwrap(), vec![], "a made-up id");
    assert_eq!(store.read_messages(b1, bob, &ids[1..2], NOW).await.unwrap(), vec![], "not from that sender");
    for mailbox in [a1, a2] {
        let receipts = store.fetch_receipts(mailbox, 0, 10).await.unwrap();
        assert_eq!((receipts[2].kind, receipts[2].message_id, receipts[2].at), (ReceiptKind::Read, ids[0], NOW + 20));
        assert_eq!(receipts.len(), 3);
        store.ack_receipts(mailbox, &receipts.iter().map(receipt_ref).collect::<Vec<_>>()).await.unwrap();
        assert!(store.fetch_receipts(mailbox, 0, 10).await.unwrap().is_empty());
    }
    assert_eq!(receipts_of(store, b2).await, vec![(ReceiptKind::ReadElsewhere, ids[0], alice)]);
    assert!(receipts_of(store, b1).await.is_empty(), "the reading device is not told");
    let b2_receipts = store.fetch_receipts(b2, 0, 10).await.unwrap();
    store.ack_receipts(b2, &[receipt_ref(&b2_receipts[0])]).await.unwrap();

    // The third message expires everywhere; Alice's devices get one `expired` each.
    let expiring = named(store, b1, alice, &ids[2..3]).await;
    assert_eq!(expiring.len(), 1);
    assert!(store.expire(NOW + 500, 1000, 100).await.unwrap().is_empty());
    assert_eq!(store.expire(NOW + 1002, 1000, 100).await.unwrap(), vec![alice]);
    assert_eq!(store.total_depth().await.unwrap(), 0);
    for mailbox in [a1, a2] {
        assert_eq!(receipts_of(store, mailbox).await, vec![(ReceiptKind::Expired, ids[2], bob)]);
        let receipts = store.fetch_receipts(mailbox, 0, 10).await.unwrap();
        store.ack_receipts(mailbox, &[receipt_ref(&receipts[0])]).await.unwrap();
    }
    let late = store.ack_messages(b1, &expiring, NOW + 1002).await.unwrap();
    assert!(late.is_empty(), "an ack of an expired copy tells no one");
    store.flush().await.unwrap();
    assert!(receipts_of(store, a1).await.is_empty(), "and queues no `delivered`");
    assert_eq!(
        send(ids[3], 3, NOW + 1003).await,
        Enqueued::Stored { at: NOW + 1003 },
        "a message refused for a full mailbox is stored when resent with room, not taken for a duplicate"
    );

    // b2 cannot open it: its copy goes, the sending device a1 (alone) is asked to resend
    // for b2, and a resend under the same id is stored for b2 only.
    let unopened = named(store, b2, alice, &ids[3..4]).await;
    assert_eq!(store.retry_messages(b2, &unopened, NOW + 1004).await.unwrap(), vec![alice]);
    assert_eq!(store.retry_messages(b2, &unopened, NOW + 1005).await.unwrap(), vec![]);
    let resend = store.fetch_receipts(a1, 0, 10).await.unwrap();
    assert_eq!(
        resend.iter().map(|r| (r.kind, r.message_id, r.peer, r.peer_device)).collect::<Vec<_>>(),
        vec![(ReceiptKind::Resend, ids[3], bob, Some(b2.device))]
    );
    assert!(receipts_of(store, a2).await.is_empty(), "only the sending device resends");
    assert_eq!(send(ids[3], 5, NOW + 1006).await, Enqueued::Stored { at: NOW + 1003 });
    assert_eq!(send(ids[3], 6, NOW + 1007).await, Enqueued::Duplicate { at: NOW + 1003 }, "one resend per retry");
    let depths = [store.depth(b1).await.unwrap(), store.depth(b2).await.unwrap(), store.depth(a2).await.unwrap()];
    assert_eq!(depths, [1, 1, 1], "b1 and a2 kept their copies, b2 got a new one");
    assert_eq!(store.fetch_messages(b2, 0, 10).await.unwrap()[0].envelope, env(5));
    assert_eq!(store.fetch_messages(b1, 0, 10).await.unwrap()[0].envelope, env(3));

    // When each device was last connected.
    store.mark_seen(a1, NOW + 5).await.unwrap();
    store.mark_seen(a2, NOW + 6).await.unwrap();
    let mut seen = store.last_seen(alice).await.unwrap();
    seen.sort_by_key(|(_, at)| *at);
    assert_eq!(seen, vec![(a1.device, NOW + 5), (a2.device, NOW + 6)]);

    // A closed mailbox (a revoked device) loses its messages and gets no more receipts.
    store.close_mailbox(a2).await.unwrap();
    store.mark_seen(a2, NOW + 7).await.unwrap();
    assert_eq!(store.last_seen(alice).await.unwrap(), vec![(a1.device, NOW + 5)], "a closed mailbox is not seen");
    assert_eq!(store.depth(a2).await.unwrap(), 0);
    assert_eq!(
        store.ack_messages(b1, &named(store, b1, alice, &ids[3..]).await, NOW + 1010).await.unwrap(),
        vec![alice]
    );
    assert!(receipts_of(store, a2).await.is_empty(), "a closed mailbox gets nothing");
    assert_eq!(receipts_of(store, a1).await.last(), Some(&(ReceiptKind::Delivered, ids[3], bob)));
    assert_eq!(
        store.retry_messages(b2, &named(store, b2, alice, &ids[3..]).await, NOW + 1011).await.unwrap(),
        vec![alice]
    );
    assert_eq!(send(ids[3], 7, NOW + 1012).await, Enqueued::Stored { at: NOW + 1003 });
    assert_eq!(store.depth(a2).await.unwrap(), 0, "a resend never refills a closed mailbox");
}

fn device(created_at: i64) -> DeviceRecord {
    DeviceRecord {
        id: DeviceId(Uuid::new_v4()),
        session: Uuid::new_v4(),
        device_key: format!("dk-{created_at}"),
        certificate: "cert".into(),
        name: Some("Firefox".into()),
        signed_prekey: SignedPrekeyRecord {
            id: 1,
            public_key: "spk".into(),
            signature: "sig".into(),
            uploaded_at: NOW,
        },
        created_at,
    }
}

/// Versioned device sets: an update applies only at the version it was decided on, so of
/// concurrent registrations decided on the same version exactly one wins.
async fn devices(store: Arc<dyn DeviceStore>, user: UserId) {
    assert_eq!(store.device_set(user).await.unwrap(), DeviceSet::default());
    let first = device(NOW);
    assert!(store.update_device_set(user, 0, "id-1", &[], first.clone()).await.unwrap());
    assert!(!store.update_device_set(user, 0, "id-1", &[], device(NOW)).await.unwrap(), "version 0 is taken");
    let set = store.device_set(user).await.unwrap();
    assert_eq!((set.identity.as_deref(), set.devices.clone(), set.version), (Some("id-1"), vec![first.clone()], 1));

    let second = device(NOW + 1);
    assert!(store.update_device_set(user, 1, "id-2", &[first.id], second.clone()).await.unwrap());
    assert!(!store.update_device_set(user, 1, "id-3", &[], device(NOW + 2)).await.unwrap(), "a stale version loses");
    let set = store.device_set(user).await.unwrap();
    assert_eq!((set.identity.as_deref(), set.devices.clone(), set.version), (Some("id-2"), vec![second.clone()], 2));

    let rotated =
        SignedPrekeyRecord { id: 2, public_key: "spk2".into(), signature: "sig2".into(), uploaded_at: NOW + 9 };
    assert!(store.set_signed_prekey(user, second.id, rotated.clone()).await.unwrap());
    assert!(!store.set_signed_prekey(user, DeviceId::new(), rotated.clone()).await.unwrap());
    assert_eq!(store.device_set(user).await.unwrap().devices[0].signed_prekey, rotated);

    // Concurrent updates decided on one version: exactly one applies.
    let version = store.device_set(user).await.unwrap().version;
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.update_device_set(user, version, "id-2", &[], device(NOW + 10 + i)).await.unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.unwrap());
    }
    assert_eq!(won, 1, "one concurrent update wins");
    let set = store.device_set(user).await.unwrap();
    assert_eq!((set.devices.len(), set.version), (2, version + 1));

    assert!(store.remove_device(user, second.id).await.unwrap());
    assert!(!store.remove_device(user, second.id).await.unwrap());
    let after = store.device_set(user).await.unwrap();
    assert_eq!((after.devices.len(), after.version), (1, version + 2), "removing bumps the version");
}

/// Push subscriptions: only for a device that exists, one per device (replaced), removed
/// on request — with an endpoint, only if it is still that one — and with the device.
async fn push_subscriptions(devices: &dyn DeviceStore, push: &dyn PushStore, user: UserId) {
    let sub = |endpoint: &str| PushSubscriptionRecord {
        endpoint: endpoint.into(),
        p256dh: "key".into(),
        auth: "auth".into(),
        created_at: NOW,
    };
    let phone = device(NOW + 100);
    let version = devices.device_set(user).await.unwrap().version;
    let identity = devices.device_set(user).await.unwrap().identity.unwrap_or_else(|| "id-p".into());
    assert!(devices.update_device_set(user, version, &identity, &[], phone.clone()).await.unwrap());
    assert!(!push.put_push_subscription(user, DeviceId::new(), sub("https://a")).await.unwrap(), "no such device");
    assert!(push.put_push_subscription(user, phone.id, sub("https://a")).await.unwrap());
    assert!(push.put_push_subscription(user, phone.id, sub("https://b")).await.unwrap());
    assert_eq!(push.push_subscriptions(user).await.unwrap(), vec![(phone.id, sub("https://b"))], "replaced");
    push.remove_push_subscription(user, phone.id, Some("https://a".into())).await.unwrap();
    assert_eq!(push.push_subscriptions(user).await.unwrap().len(), 1, "a stale endpoint removes nothing");
    push.remove_push_subscription(user, phone.id, Some("https://b".into())).await.unwrap();
    assert!(push.push_subscriptions(user).await.unwrap().is_empty());
    assert!(push.put_push_subscription(user, phone.id, sub("https://c")).await.unwrap());
    push.remove_push_subscription(user, phone.id, None).await.unwrap();
    assert!(push.push_subscriptions(user).await.unwrap().is_empty());
    assert!(push.put_push_subscription(user, phone.id, sub("https://d")).await.unwrap());
    assert!(devices.remove_device(user, phone.id).await.unwrap());
    push.remove_push_subscription(user, phone.id, None).await.unwrap(); // as service::devices does
    assert!(push.push_subscriptions(user).await.unwrap().is_empty(), "gone with the device");
}

/// One-time prekeys: all-or-nothing adds, lowest id first, and under concurrent takes —
/// from several connections — every key is handed out exactly once.
async fn prekeys(stores: Vec<Arc<dyn PrekeyStore>>) {
    let store = stores[0].clone();
    let (user, device) = (UserId::new(), DeviceId::new());
    let keys = |ids: std::ops::RangeInclusive<u32>| ids.map(|id| (id, format!("key-{id}"))).collect::<Vec<_>>();
    assert_eq!(store.add_prekeys(user, device, &keys(1..=3), 10).await.unwrap(), PrekeysAdded::Stored(3));
    assert_eq!(store.add_prekeys(user, device, &keys(3..=5), 10).await.unwrap(), PrekeysAdded::IdTaken(3));
    assert_eq!(store.count_prekeys(user, device).await.unwrap(), 3, "a refused add stores nothing");
    assert_eq!(store.add_prekeys(user, device, &keys(4..=11), 10).await.unwrap(), PrekeysAdded::Full);
    assert_eq!(store.add_prekeys(user, device, &keys(4..=10), 10).await.unwrap(), PrekeysAdded::Stored(10));
    assert_eq!(store.take_prekey(user, device).await.unwrap(), Some((1, "key-1".into())));
    assert_eq!(store.take_prekey(user, DeviceId::new()).await.unwrap(), None);
    store.clear_prekeys(user, device).await.unwrap();
    assert_eq!(store.count_prekeys(user, device).await.unwrap(), 0);

    let pool = 200;
    assert_eq!(store.add_prekeys(user, device, &keys(1..=pool), pool).await.unwrap(), PrekeysAdded::Stored(pool));
    let takers: Vec<_> = (0..16)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            tokio::spawn(async move {
                let mut got = vec![];
                while let Some((id, _)) = store.take_prekey(user, device).await.unwrap() {
                    got.push(id);
                }
                got
            })
        })
        .collect();
    let mut handed_out = vec![];
    for taker in takers {
        handed_out.extend(taker.await.unwrap());
    }
    handed_out.sort_unstable();
    assert_eq!(handed_out, (1..=pool).collect::<Vec<_>>(), "every key exactly once");
    assert_eq!(store.count_prekeys(user, device).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_sqlite_devices_and_prekeys_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hush.db");
    let (a, b) = (SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap());
    let (user, _) = a.find_or_create(&unique_phone(), NOW).await.unwrap();
    devices(Arc::new(a.clone()), user.id).await;
    push_subscriptions(&a, &a, user.id).await;
    prekeys(vec![Arc::new(a), Arc::new(b)]).await;
}

#[tokio::test]
async fn embedded_sqlite_backend() {
    let store = SqliteStore::open_in_memory().unwrap();
    accounts_and_sessions(&store, &store).await;
    codes(&store).await;
    rate_limits(&store).await;
    social(&store, &store).await;
    mailbox(&store).await;
    several_acked_at_once(&store).await;
    placements(&store).await;
    purge(&store).await;
    same_id_from_two_senders(&store).await;
    expiry_in_order_and_by_limit(&store).await;
    receipt_quota(&store).await;
}

#[tokio::test]
async fn redis_backend() {
    let redis = common::redis::RedisServer::start();
    let store = RedisStore::connect(&redis.url(), &format!("conformance-{}", Uuid::new_v4())).await.unwrap();
    rate_limits(&store).await;
    mailbox(&store).await;
    several_acked_at_once(&store).await;
    placements(&store).await;
    receipt_placements(&store).await;
    purge(&store).await;
    same_id_from_two_senders(&store).await;
    expiry_in_order_and_by_limit(&store).await;
    receipt_quota(&store).await;
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_prekeys_across_connections() {
    let redis = common::redis::RedisServer::start();
    let prefix = format!("conformance-{}", Uuid::new_v4());
    let a = RedisStore::connect(&redis.url(), &prefix).await.unwrap();
    let b = RedisStore::connect(&redis.url(), &prefix).await.unwrap();
    prekeys(vec![Arc::new(a), Arc::new(b)]).await;
}

/// Ignored unless asked for: `scripts/test.sh` runs it (with `--include-ignored`) when
/// `MONGODB_URI` is set, and prints a SKIPPED line otherwise.
#[tokio::test]
#[ignore = "SKIPPED without MONGODB_URI: no MongoDB server can be installed on our build machines"]
async fn mongodb_backend() {
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI must point at a MongoDB server to run this suite");
    let store = MongoStore::connect(&uri, &format!("hush_conformance_{}", Uuid::new_v4().simple())).await.unwrap();
    accounts_and_sessions(&store, &store).await;
    codes(&store).await;
    social(&store, &store).await;
    let (user, _) = store.find_or_create(&unique_phone(), NOW).await.unwrap();
    devices(Arc::new(store.clone()), user.id).await;
    push_subscriptions(&store, &store, user.id).await;
    store.ping().await.unwrap();
    store.drop_all().await.unwrap();
}

/// Adds to `pipe` a message queued in Redis layout 1 (a sorted set of members and a hash of
/// payloads, the copy in the expiry index): `keys` is a key with `{}` where `mq`/`md` go,
/// `name` the queue's name (a person, or `{user}:{device}`), `member` the bare id (before
/// members named the sender) or `{sender}/{id}`.
fn queue_in_layout_1(pipe: &mut ::redis::Pipeline, prefix: &str, name: &str, member: &str, seq: i64, payload: &str) {
    pipe.cmd("ZADD").arg(format!("{prefix}:mq:{name}")).arg(seq).arg(member).ignore();
    pipe.cmd("HSET").arg(format!("{prefix}:md:{name}")).arg(member).arg(payload).ignore();
    pipe.cmd("ZADD").arg(format!("{prefix}:mexp")).arg(NOW).arg(format!("{name}|{member}")).ignore();
}

/// Redis data in layout 1 (queues as sorted sets and hashes; before devices had mailboxes,
/// per person: `mq:{user}`, `md:{user}`, receipts `rq:{user}`, the dedup key
/// `seen:{sender}:{id}`) moves into streams when a store connects: a device's queue keeps
/// its order and its bare-id members, a person's queues go to the first device whose
/// mailbox opens, and a resend of such a message is still recognised.
#[tokio::test]
async fn redis_data_in_the_earlier_layout_moves_into_streams_when_the_store_connects() {
    let redis = common::redis::RedisServer::start();
    let prefix = format!("legacy-{}", Uuid::new_v4());
    let (alice, bob, old, receipt) = (UserId::new(), UserId::new(), Uuid::now_v7(), Uuid::now_v7());
    let b2 = Mailbox { user: bob, device: DeviceId::new() };
    let (bare, named_first, named_second) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let payload = format!(r#"{{"f":"{alice}","d":"{}","e":"AgIBAQ","a":{NOW}}}"#, DeviceId::new());
    let receipt_payload = format!(r#"{{"k":"read","m":"{old}","p":"{alice}","a":{NOW}}}"#);
    let mut legacy = ::redis::pipe();
    queue_in_layout_1(&mut legacy, &prefix, &bob.to_string(), &old.to_string(), 1, &payload);
    let b2_name = format!("{bob}:{}", b2.device);
    // Out of insertion order on purpose: the queue's order is its scores.
    queue_in_layout_1(&mut legacy, &prefix, &b2_name, &format!("{alice}/{named_second}"), 3, &payload);
    queue_in_layout_1(&mut legacy, &prefix, &b2_name, &bare.to_string(), 1, &payload);
    queue_in_layout_1(&mut legacy, &prefix, &b2_name, &format!("{alice}/{named_first}"), 2, &payload);
    let _: () = legacy
        .cmd("SADD")
        .arg(format!("{prefix}:mbx:{bob}"))
        .arg(b2.device.to_string())
        .ignore()
        .cmd("SET")
        .arg(format!("{prefix}:mseq:{bob}"))
        .arg(1)
        .ignore()
        .cmd("SET")
        .arg(format!("{prefix}:seen:{alice}:{old}"))
        .arg(NOW)
        .arg("EX")
        .arg(3600)
        .ignore()
        .cmd("ZADD")
        .arg(format!("{prefix}:rq:{bob}"))
        .arg(1)
        .arg(receipt.to_string())
        .ignore()
        .cmd("HSET")
        .arg(format!("{prefix}:rd:{bob}"))
        .arg(receipt.to_string())
        .arg(&receipt_payload)
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();

    let store = RedisStore::connect(&redis.url(), &prefix).await.unwrap();
    let left: Vec<String> = ::redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.unwrap();
    let layout_1: Vec<&String> = left
        .iter()
        .filter(|k| [":mq:", ":md:", ":mseq:", ":rq:", ":rd:", ":seen:"].iter().any(|p| k.contains(p)))
        .collect();
    assert!(layout_1.is_empty(), "layout 1 keys left: {layout_1:?}");
    assert_eq!(store.total_depth().await.unwrap(), 4, "every waiting copy counted");
    assert!(RedisStore::connect(&redis.url(), &prefix).await.is_ok(), "a second start finds nothing to move");
    assert_eq!(store.total_depth().await.unwrap(), 4);

    // A device's queue: in its order, the bare id read as the id, acked by its sender.
    let waiting = store.fetch_messages(b2, 0, 10).await.unwrap();
    assert_eq!(waiting.iter().map(|m| m.id).collect::<Vec<_>>(), vec![bare, named_first, named_second]);
    assert!(waiting.iter().all(|m| m.from == alice && m.to == bob && m.envelope == [2, 2, 1, 1]));
    let refs = named(&store, b2, alice, &[bare, named_first, named_second]).await;
    assert_eq!(store.ack_messages(b2, &refs, NOW).await.unwrap(), vec![alice]);
    assert_eq!(store.depth(b2).await.unwrap(), 0);

    // A person's queues go to the first device to open.
    let b1 = Mailbox { user: bob, device: DeviceId::new() };
    store.open_mailbox(b1).await.unwrap();
    let waiting = store.fetch_messages(b1, 0, 10).await.unwrap();
    assert_eq!(waiting.iter().map(|m| (m.id, m.from, m.to)).collect::<Vec<_>>(), vec![(old, alice, bob)]);
    assert_eq!(waiting[0].envelope, vec![2, 2, 1, 1]);
    assert_eq!(store.fetch_receipts(b1, 0, 10).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), vec![receipt]);
    assert_eq!(store.total_depth().await.unwrap(), 1);
    let a1 = Mailbox { user: alice, device: DeviceId::new() };
    let resend = message(bob, old, &[b1], &[2, 2, 9]);
    let answer = store.enqueue_many(a1, vec![resend], NOW + 5, MailboxPolicy { max_messages: 10, ttl_secs: 60 }).await;
    assert_eq!(answer.unwrap(), vec![Enqueued::Duplicate { at: NOW }], "the old dedup key still counts");
    assert_eq!(store.expire(NOW + 100, 60, 10).await.unwrap(), vec![alice], "and it expires from its new mailbox");
    assert_eq!((store.depth(b1).await.unwrap(), store.total_depth().await.unwrap()), (0, 0));

    let _: () = ::redis::cmd("SET").arg(format!("{prefix}:layout")).arg(5).query_async(&mut conn).await.unwrap();
    let refused = RedisStore::connect(&redis.url(), &prefix).await.err().expect("a newer layout is refused");
    assert!(refused.to_string().contains("layout 5, newer than this release's 4"), "{refused}");
}

/// Message records kept as hashes (layout 2: `mid:{sender}:{id}` with `a`, `r`, `s`) become
/// the strings of layout 3 when a store connects, keeping what they say and when they
/// expire: a resend is still a duplicate, a message read before sends no second `read`,
/// and a record that does not name its recipient still answers a `read` unmarked.
#[tokio::test]
async fn redis_message_records_kept_as_hashes_move_when_the_store_connects() {
    let redis = common::redis::RedisServer::start();
    let prefix = format!("records-{}", Uuid::new_v4());
    let (alice, bob) = (UserId::new(), UserId::new());
    let (fresh, read_before, unnamed, lasting) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let record = |id: Uuid| format!("{prefix}:mid:{alice}:{id}");
    let mut layout_2 = ::redis::pipe();
    layout_2.cmd("SET").arg(format!("{prefix}:layout")).arg(2).ignore();
    for (id, state) in [(fresh, 0), (read_before, 2)] {
        let fields = [("a", NOW.to_string()), ("r", bob.to_string()), ("s", state.to_string())];
        layout_2.cmd("HSET").arg(record(id)).arg(&fields).ignore();
        layout_2.cmd("EXPIRE").arg(record(id)).arg(3600).ignore();
    }
    layout_2.cmd("HSET").arg(record(unnamed)).arg(&[("a", NOW), ("s", 0)]).ignore();
    layout_2.cmd("EXPIRE").arg(record(unnamed)).arg(3600).ignore();
    layout_2.cmd("HSET").arg(record(lasting)).arg(&[("a", NOW), ("s", 0)]).ignore();
    let _: () = layout_2.query_async(&mut conn).await.unwrap();

    let store = RedisStore::connect(&redis.url(), &prefix).await.unwrap();
    let left: Vec<String> = ::redis::cmd("KEYS").arg(format!("{prefix}:mid:*")).query_async(&mut conn).await.unwrap();
    assert!(left.is_empty(), "hash records left: {left:?}");
    for (id, expected) in [(fresh, 1..=3600), (unnamed, 1..=3600), (lasting, -1..=-1)] {
        let ttl: i64 =
            ::redis::cmd("TTL").arg(format!("{prefix}:mr:{alice}:{id}")).query_async(&mut conn).await.unwrap();
        assert!(expected.contains(&ttl), "{id}: expires in {ttl} s");
    }
    let layout: i64 = ::redis::cmd("GET").arg(format!("{prefix}:layout")).query_async(&mut conn).await.unwrap();
    assert_eq!(layout, 4);

    let (a1, b1) = (Mailbox { user: alice, device: DeviceId::new() }, Mailbox { user: bob, device: DeviceId::new() });
    store.open_mailbox(a1).await.unwrap();
    store.open_mailbox(b1).await.unwrap();
    let policy = MailboxPolicy { max_messages: 10, ttl_secs: 3600 };
    let resend = message(bob, fresh, &[b1], &[2, 2, 9]);
    let answer = store.enqueue_many(a1, vec![resend], NOW + 5, policy).await.unwrap();
    assert_eq!(answer, vec![Enqueued::Duplicate { at: NOW }], "the record still finds the resend");
    assert_eq!(store.depth(b1).await.unwrap(), 0);

    assert_eq!(store.read_messages(b1, alice, &[fresh, read_before], NOW).await.unwrap(), vec![alice, bob]);
    assert_eq!(receipts_of(&store, a1).await, vec![(ReceiptKind::Read, fresh, bob)], "read before: no second read");
    assert!(store.read_messages(b1, alice, &[fresh], NOW).await.unwrap().is_empty(), "marked read once");
    store.read_messages(b1, alice, &[unnamed], NOW).await.unwrap();
    let receipts = receipts_of(&store, a1).await;
    assert_eq!(receipts.last(), Some(&(ReceiptKind::Read, unnamed, bob)), "a record naming no recipient answers");
}

/// Copies and receipts kept as JSON (layouts 2 and 3: `{"i", "f", "d", "t", "e" base64url,
/// "a", "o"}`, `{"r", "k", "m", "p", "q", "a"}`) stay where they are when a store moves to
/// layout 4, which stores new ones as lines (a copy's followed by the envelope's bytes):
/// both kinds are read in their order, acked, asked again, purged and expired alike.
#[tokio::test]
async fn redis_copies_and_receipts_kept_as_json_are_served_beside_those_of_layout_4() {
    let redis = common::redis::RedisServer::start();
    let prefix = format!("copies-{}", Uuid::new_v4());
    let (alice, bob, carol) = (UserId::new(), UserId::new(), UserId::new());
    let device = |user| Mailbox { user, device: DeviceId::new() };
    let (a1, b1) = (device(alice), device(bob));
    let (acked, asked_again, expiring, purged) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let stream = format!("{prefix}:ms:{bob}:{}", b1.device);
    let mut layout_3 = ::redis::pipe();
    layout_3.cmd("SET").arg(format!("{prefix}:layout")).arg(3).ignore();
    layout_3.cmd("SADD").arg(format!("{prefix}:mbx:{alice}")).arg(a1.device.to_string()).ignore();
    layout_3.cmd("SADD").arg(format!("{prefix}:mbx:{bob}")).arg(b1.device.to_string()).ignore();
    for (id, from, only) in
        [(acked, alice, true), (asked_again, alice, false), (expiring, alice, false), (purged, carol, true)]
    {
        let only = if only { r#","o":true"# } else { "" };
        let copy =
            format!(r#"{{"i":"{id}","f":"{from}","d":"{}","t":"{bob}","e":"AgIBAQ","a":{NOW}{only}}}"#, a1.device);
        layout_3.cmd("XADD").arg(&stream).arg("0-*").arg("p").arg(copy).ignore();
        layout_3
            .cmd("SET")
            .arg(format!("{prefix}:mr:{from}:{id}"))
            .arg(format!("{NOW} {bob} 0"))
            .arg("EX")
            .arg(3600)
            .ignore();
    }
    let json_receipt = |kind: &str, peer: UserId| {
        format!(r#"{{"r":"{}","k":"{kind}","m":"{acked}","p":"{peer}","a":{NOW}}}"#, Uuid::now_v7())
    };
    let (a1_receipts, b1_receipts) =
        (format!("{prefix}:rs:{alice}:{}", a1.device), format!("{prefix}:rs:{bob}:{}", b1.device));
    for (stream, receipt) in [
        (&a1_receipts, json_receipt("read", bob)),
        (&b1_receipts, json_receipt("read", carol)),
        (&b1_receipts, json_receipt("expired", alice)),
    ] {
        layout_3.cmd("XADD").arg(stream).arg("0-*").arg("p").arg(receipt).ignore();
    }
    layout_3.cmd("ZADD").arg(format!("{prefix}:mexp")).arg(NOW).arg(format!("{bob}:{}", b1.device)).ignore();
    layout_3.cmd("SET").arg(format!("{prefix}:mtotal")).arg(4).ignore();
    let _: () = layout_3.query_async(&mut conn).await.unwrap();

    let store = RedisStore::connect(&redis.url(), &prefix).await.unwrap();
    let layout: i64 = ::redis::cmd("GET").arg(format!("{prefix}:layout")).query_async(&mut conn).await.unwrap();
    assert_eq!(layout, 4);
    let fresh = Uuid::now_v7();
    let policy = MailboxPolicy { max_messages: 10, ttl_secs: 3600 };
    let stored = store.enqueue_many(a1, vec![message(bob, fresh, &[b1], &[0, b'\n', 255])], NOW + 5, policy).await;
    assert_eq!(stored.unwrap(), vec![Enqueued::Stored { at: NOW + 5 }]);
    let newest: Vec<(String, Vec<Vec<u8>>)> =
        ::redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    let line = format!("{fresh} {alice} {} {bob} {} 1\n", a1.device, NOW + 5);
    assert_eq!(newest.last().unwrap().1[1], [line.as_bytes(), &[0, b'\n', 255]].concat(), "stored as a line and bytes");

    let waiting = store.fetch_messages(b1, 0, 10).await.unwrap();
    let seen: Vec<_> = waiting.iter().map(|m| (m.id, m.from, m.from_device, m.to, m.stored_at)).collect();
    let expected: Vec<_> =
        [(acked, alice, NOW), (asked_again, alice, NOW), (expiring, alice, NOW), (purged, carol, NOW)]
            .into_iter()
            .chain([(fresh, alice, NOW + 5)])
            .map(|(id, from, at)| (id, from, a1.device, bob, at))
            .collect();
    assert_eq!(seen, expected, "both kinds in the order stored");
    assert!(waiting[..4].iter().all(|m| m.envelope == [2, 2, 1, 1]), "JSON copies decode their base64url");
    assert_eq!(waiting[4].envelope, [0, b'\n', 255]);
    let as_ref = |i: usize| MessageRef { sender: waiting[i].from, id: waiting[i].id, seq: waiting[i].seq };

    assert_eq!(store.ack_messages(b1, &[as_ref(0), as_ref(4)], NOW + 6).await.unwrap(), vec![alice]);
    assert_eq!(store.retry_messages(b1, &[as_ref(1)], NOW + 6).await.unwrap(), vec![alice]);
    assert_eq!(
        receipts_of(&store, b1).await,
        vec![(ReceiptKind::Read, acked, carol), (ReceiptKind::Expired, acked, alice)]
    );
    store.purge_between(bob, carol).await.unwrap();
    assert_eq!(
        receipts_of(&store, b1).await,
        vec![(ReceiptKind::Expired, acked, alice)],
        "the receipt about Carol goes"
    );
    assert_eq!((store.depth(b1).await.unwrap(), store.total_depth().await.unwrap()), (1, 1));
    assert_eq!(store.expire(NOW + 3601, 3600, 10).await.unwrap(), vec![alice]);
    assert_eq!((store.depth(b1).await.unwrap(), store.total_depth().await.unwrap()), (0, 0));
    let told = vec![
        (ReceiptKind::Read, acked, bob),
        (ReceiptKind::Delivered, acked, bob),
        (ReceiptKind::Delivered, fresh, bob),
        (ReceiptKind::Resend, asked_again, bob),
        (ReceiptKind::Expired, expiring, bob),
    ];
    assert_eq!(receipts_of(&store, a1).await, told);
}

/// Redis forgets its scripts when it restarts (or `SCRIPT FLUSH`): the next call of each is
/// answered NOSCRIPT, and the store loads it and calls again, so nothing it sent is lost.
#[tokio::test]
async fn redis_scripts_forgotten_by_redis_are_loaded_again() {
    let redis = common::redis::RedisServer::start();
    let store = RedisStore::connect(&redis.url(), &format!("flushed-{}", Uuid::new_v4())).await.unwrap();
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let flush = || ::redis::cmd("SCRIPT").arg("FLUSH").clone();
    let (alice, bob) = (UserId::new(), UserId::new());
    let (a1, b1) = (Mailbox { user: alice, device: DeviceId::new() }, Mailbox { user: bob, device: DeviceId::new() });
    let policy = MailboxPolicy { max_messages: 10, ttl_secs: 3600 };
    store.open_mailbox(a1).await.unwrap();
    store.open_mailbox(b1).await.unwrap();
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let stored = store.enqueue_many(a1, vec![message(bob, first, &[b1], b"one")], NOW, policy).await.unwrap();
    assert_eq!(stored, vec![Enqueued::Stored { at: NOW }]);
    let _: () = flush().query_async(&mut conn).await.unwrap();
    let stored = store.enqueue_many(a1, vec![message(bob, second, &[b1], b"two")], NOW, policy).await.unwrap();
    assert_eq!(stored, vec![Enqueued::Stored { at: NOW }], "the send script loaded again");
    let waiting = store.fetch_messages(b1, 0, 10).await.unwrap();
    assert_eq!(
        waiting.iter().map(|m| (m.id, m.envelope.as_slice())).collect::<Vec<_>>(),
        [(first, &b"one"[..]), (second, &b"two"[..])]
    );
    let _: () = flush().query_async(&mut conn).await.unwrap();
    let refs: Vec<MessageRef> = waiting.iter().map(|m| MessageRef { sender: m.from, id: m.id, seq: m.seq }).collect();
    assert_eq!(store.ack_messages(b1, &refs, NOW + 1).await.unwrap(), vec![alice], "the ack script loaded again");
    assert!(store.fetch_messages(b1, 0, 10).await.unwrap().is_empty());
    assert_eq!(receipts_of(&store, a1).await.len(), 2, "a delivered receipt for each");
}
