//! Property test of the delivery state machine: two client engines talk through a model
//! of the server's mailbox semantics over a network that drops (taking the connection
//! down with the frame, as TCP does), duplicates and reorders frames, while clients
//! disconnect and restart from their stores. Each side is a registered device; the first
//! messages start sessions from bundles (both sides may start at once). After the faults
//! stop and the network heals, every message written is shown exactly once, every sender
//! sees it delivered, and the mailboxes are empty.
//!
//! The model of the server's key directory (devices, prekeys, bundles) answers the REST
//! calls the engines make; the Rust suites against the real server cover the real one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use hush_client::engine::Engine;
use hush_client::model_keys::{KeyDirectory, ModelHttp};
use hush_client::{Event, MemoryStore, Status};
use hush_shared::ws::{ClientFrame, MessageId, ReceiptKind, ServerFrame};
use hush_shared::{DeviceId, UserId};
use proptest::prelude::*;
use uuid::Uuid;

/// A waiting message: (id, sender, sender's device, envelope), by sequence.
type Queue = BTreeMap<u64, (MessageId, UserId, DeviceId, String)>;
/// A waiting receipt: (receipt id, kind, message id, peer), by sequence.
type ReceiptQueue = BTreeMap<u64, (Uuid, ReceiptKind, MessageId, UserId)>;

/// The server's semantics, in memory: store before `stored`, dedup by (sender, id),
/// delete on ack, receipts until acked, full drain on every (re)connection.
#[derive(Default)]
struct ModelServer {
    mailbox: HashMap<UserId, Queue>,
    receipts: HashMap<UserId, ReceiptQueue>,
    seen: HashSet<(UserId, MessageId)>,
    seq: u64,
}

impl ModelServer {
    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Handles one client frame from `from`'s device; returns frames for (user, frame).
    fn handle(&mut self, from: UserId, device: DeviceId, frame: ClientFrame) -> Vec<(UserId, ServerFrame)> {
        let mut out = Vec::new();
        match frame {
            ClientFrame::Send { id, to, envelopes, .. } => {
                assert_eq!(envelopes.len(), 1, "one device per person");
                let envelope = envelopes[0].envelope.clone();
                if self.seen.insert((from, id)) {
                    let seq = self.next();
                    self.mailbox.entry(to).or_default().insert(seq, (id, from, device, envelope.clone()));
                    out.push((to, ServerFrame::Message { id, from, from_device: device, to, envelope, sent_at: 1 }));
                }
                out.push((from, ServerFrame::Stored { id, at: 1 }));
            }
            ClientFrame::Ack { ids } => self.take(from, ids, ReceiptKind::Delivered, &mut out),
            ClientFrame::Retry { ids } => self.take(from, ids, ReceiptKind::Resend, &mut out),
            ClientFrame::ReceiptAck { ids } => {
                let receipts = self.receipts.entry(from).or_default();
                receipts.retain(|_, (rid, ..)| !ids.contains(rid));
            }
            _ => {}
        }
        out
    }

    /// Deletes acked (or handed back) messages and queues a receipt for each sender; a
    /// resend also forgets the id so it can be stored again.
    fn take(&mut self, to: UserId, ids: Vec<MessageId>, kind: ReceiptKind, out: &mut Vec<(UserId, ServerFrame)>) {
        for id in ids {
            let mailbox = self.mailbox.entry(to).or_default();
            let found = mailbox.iter().find(|(_, (m, ..))| *m == id).map(|(s, (_, sender, ..))| (*s, *sender));
            if let Some((seq, sender)) = found {
                mailbox.remove(&seq);
                if kind == ReceiptKind::Resend {
                    self.seen.remove(&(sender, id));
                }
                let rseq = self.next();
                let rid = Uuid::new_v4();
                self.receipts.entry(sender).or_default().insert(rseq, (rid, kind, id, to));
                let receipt =
                    ServerFrame::Receipt { id: rid, kind, message_id: id, peer: to, peer_device: None, at: 2 };
                out.push((sender, receipt));
            }
        }
    }

    /// Everything waiting for `user`, as a fresh connection's drain sends it.
    fn drain(&self, user: UserId) -> Vec<ServerFrame> {
        let mut frames: Vec<ServerFrame> = self
            .mailbox
            .get(&user)
            .into_iter()
            .flatten()
            .map(|(_, (id, from, device, envelope))| ServerFrame::Message {
                id: *id,
                from: *from,
                from_device: *device,
                to: user,
                envelope: envelope.clone(),
                sent_at: 1,
            })
            .collect();
        frames.extend(self.receipts.get(&user).into_iter().flatten().map(|(_, (rid, kind, mid, peer))| {
            ServerFrame::Receipt { id: *rid, kind: *kind, message_id: *mid, peer: *peer, peer_device: None, at: 2 }
        }));
        frames
    }
}

struct Side {
    id: UserId,
    store: MemoryStore,
    engine: Engine<MemoryStore, ModelHttp>,
    connected: bool,
    epoch: u64,
    arrivals: HashMap<MessageId, usize>,
}

/// A frame in flight, tagged with the connection it belongs to.
#[derive(Clone)]
enum Packet {
    ToServer { from: usize, epoch: u64, frame: ClientFrame },
    ToClient { to: usize, epoch: u64, frame: ServerFrame },
}

struct World {
    sides: [Side; 2],
    server: ModelServer,
    keys: Rc<KeyDirectory>,
    net: Vec<Packet>,
    composed: Vec<(usize, MessageId)>,
}

impl World {
    async fn new() -> Self {
        let keys = Rc::new(KeyDirectory::default());
        let make = |id| {
            let store = MemoryStore::default();
            Side {
                id,
                store: store.clone(),
                engine: Engine::new(id, store, ModelHttp { user: id, keys: keys.clone() }),
                connected: false,
                epoch: 0,
                arrivals: HashMap::new(),
            }
        };
        let mut sides = [make(UserId::new()), make(UserId::new())];
        for side in &mut sides {
            side.engine.set_up(None, false, 0).await.unwrap();
        }
        let (a, b) = (sides[0].id, sides[1].id);
        sides[0].engine.add_friend(b, None, None).await.unwrap();
        sides[1].engine.add_friend(a, None, None).await.unwrap();
        Self { sides, server: ModelServer::default(), keys, net: Vec::new(), composed: Vec::new() }
    }

    fn index_of(&self, user: UserId) -> usize {
        if self.sides[0].id == user { 0 } else { 1 }
    }

    fn send_up(&mut self, side: usize, frames: Vec<ClientFrame>) {
        let epoch = self.sides[side].epoch;
        for frame in frames {
            self.net.push(Packet::ToServer { from: side, epoch, frame });
        }
    }

    async fn step(&mut self, op: &Op) {
        match *op {
            Op::Compose(side) => {
                let peer = self.sides[1 - side].id;
                let (message, frames) = self.sides[side].engine.compose(peer, "hi", 0).await.unwrap();
                self.composed.push((side, message.id));
                self.send_up(side, frames);
            }
            Op::Deliver(i) if !self.net.is_empty() => {
                let packet = self.net.remove(i.index(self.net.len()));
                self.deliver(packet).await;
            }
            Op::Duplicate(i) if !self.net.is_empty() => {
                let packet = self.net[i.index(self.net.len())].clone();
                self.net.push(packet);
            }
            Op::Drop(i) if !self.net.is_empty() => {
                // A WebSocket runs over TCP: a frame is lost only with its connection.
                let side = match self.net.remove(i.index(self.net.len())) {
                    Packet::ToServer { from, .. } => from,
                    Packet::ToClient { to, .. } => to,
                };
                self.disconnect(side);
            }
            Op::Disconnect(side) => self.disconnect(side),
            Op::Connect(side) => self.connect(side).await,
            Op::Restart(side) => {
                self.disconnect(side);
                let s = &mut self.sides[side];
                let http = ModelHttp { user: s.id, keys: self.keys.clone() };
                s.engine = Engine::new(s.id, s.store.clone(), http);
                s.engine.set_up(None, false, 0).await.unwrap();
            }
            _ => {}
        }
    }

    fn disconnect(&mut self, side: usize) {
        let s = &mut self.sides[side];
        s.connected = false;
        s.epoch += 1; // frames of the old connection die with it
        s.engine.on_disconnected();
    }

    async fn connect(&mut self, side: usize) {
        if self.sides[side].connected {
            return;
        }
        self.sides[side].connected = true;
        self.sides[side].epoch += 1;
        let epoch = self.sides[side].epoch;
        let (frames, _) = self.sides[side].engine.on_connected(0).await.unwrap();
        for frame in self.server.drain(self.sides[side].id) {
            self.net.push(Packet::ToClient { to: side, epoch, frame });
        }
        self.send_up(side, frames);
    }

    async fn deliver(&mut self, packet: Packet) {
        match packet {
            Packet::ToServer { from, epoch, frame } => {
                if epoch != self.sides[from].epoch || !self.sides[from].connected {
                    return;
                }
                let device = self.sides[from].engine.device_id().expect("a set-up device");
                for (user, frame) in self.server.handle(self.sides[from].id, device, frame) {
                    let to = self.index_of(user);
                    if self.sides[to].connected {
                        let epoch = self.sides[to].epoch;
                        self.net.push(Packet::ToClient { to, epoch, frame });
                    }
                }
            }
            Packet::ToClient { to, epoch, frame } => {
                if epoch != self.sides[to].epoch || !self.sides[to].connected {
                    return;
                }
                let (frames, events) = self.sides[to].engine.handle(frame, 0).await.unwrap();
                for event in events {
                    if let Event::MessageReceived(m) = event {
                        *self.sides[to].arrivals.entry(m.id).or_default() += 1;
                    }
                }
                self.send_up(to, frames);
            }
        }
    }

    /// Heals the network: both connect, and every frame is delivered until none is left.
    async fn settle(&mut self) {
        self.connect(0).await;
        self.connect(1).await;
        let mut steps = 0;
        while !self.net.is_empty() {
            let packet = self.net.remove(0);
            self.deliver(packet).await;
            steps += 1;
            assert!(steps < 100_000, "the exchange does not converge");
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Compose(usize),
    Deliver(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Drop(prop::sample::Index),
    Disconnect(usize),
    Connect(usize),
    Restart(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize).prop_map(Op::Compose),
        6 => any::<prop::sample::Index>().prop_map(Op::Deliver),
        1 => any::<prop::sample::Index>().prop_map(Op::Duplicate),
        1 => any::<prop::sample::Index>().prop_map(Op::Drop),
        1 => (0..2usize).prop_map(Op::Disconnect),
        2 => (0..2usize).prop_map(Op::Connect),
        1 => (0..2usize).prop_map(Op::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn nothing_stored_is_lost_and_nothing_is_shown_twice(ops in proptest::collection::vec(op(), 1..120)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut world = World::new().await;
            for op in &ops {
                world.step(op).await;
            }
            world.settle().await;
            for (side, id) in &world.composed {
                let peer = 1 - side;
                prop_assert_eq!(world.sides[peer].arrivals.get(id).copied(), Some(1), "message shown exactly once");
                let status = world.sides[*side].store.all_messages().into_iter().find(|m| m.id == *id).unwrap().status;
                prop_assert_eq!(status, Status::Delivered);
            }
            for side in &world.sides {
                prop_assert!(world.server.mailbox.get(&side.id).is_none_or(|m| m.is_empty()), "mailbox drained");
                prop_assert!(world.server.receipts.get(&side.id).is_none_or(|r| r.is_empty()), "receipts acked");
            }
            Ok(())
        })?;
    }
}
