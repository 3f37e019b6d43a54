//! The journal of sends not yet written to the mailbox tables: a file beside the database
//! (`<db>-sends`) that a batch of sends is appended to with one `write` before its senders
//! are answered `stored`. A commit of SQLite's costs a message about a third of the
//! server's CPU when messages come one at a time (the B-tree pages of the copy, its index
//! and the message record written to the WAL, the copy deleted again once acked); an
//! append costs one system call per batch (BENCHMARKS.md, "Sends kept out of SQLite").
//! Like a WAL commit at `synchronous=NORMAL`, an append survives the process being killed,
//! not a power cut.
//!
//! Once the sends are written to the tables, the journal starts again holding only the
//! `delivered` receipts still waiting in memory whose copies were acked while pending and
//! so never written (`DeferredAcks::receipts_of_unwritten`): nothing else would bring such
//! a receipt back after a crash. A receipt found again at start is written unless it is
//! there already (one acked since only comes to its sender once more; clients apply a
//! receipt twice to no effect).
//!
//! Each entry is `[length: u32][CRC-32 of the payload: u32][payload]`, little-endian. A
//! payload starts with its kind. A send is one message: its sender and sending device, id,
//! addressee, when it was stored, and its copies (each with its `seq`, mailbox, the number
//! of copies its message went to, and the envelope). A receipt is its mailbox and the
//! receipt as queued. Reading stops at the first entry that is cut short or does not match
//! its checksum (a write the process died in the middle of): what precedes it is returned,
//! and the rest is not an acknowledged send.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hush_shared::{DeviceId, UserId};
use uuid::Uuid;

use super::{receipt_kind_code, receipt_kind_from};
use crate::store::{Mailbox, StoredReceipt};

/// A payload's first byte: what it holds. A payload of another kind ends reading.
const SEND: u8 = 1;
const RECEIPT: u8 = 2;

/// A copy of a journaled message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournaledCopy {
    pub seq: i64,
    pub mailbox: Mailbox,
    /// How many copies went to the recipient's devices (0: not known).
    pub copies: i64,
    pub envelope: Vec<u8>,
}

/// A message as journaled: its record and its copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournaledSend {
    pub from: Mailbox,
    pub id: Uuid,
    pub addressee: UserId,
    pub stored_at: i64,
    pub copies: Vec<JournaledCopy>,
}

/// What a journal holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Journaled {
    pub sends: Vec<JournaledSend>,
    /// Receipts with the mailboxes they go to.
    pub receipts: Vec<(Mailbox, StoredReceipt)>,
}

/// Appends `send` as one entry to `out`.
pub fn encode(send: &JournaledSend, out: &mut Vec<u8>) {
    let start = begin_entry(out, SEND);
    out.extend_from_slice(send.from.user.0.as_bytes());
    out.extend_from_slice(send.from.device.0.as_bytes());
    out.extend_from_slice(send.id.as_bytes());
    out.extend_from_slice(send.addressee.0.as_bytes());
    out.extend_from_slice(&send.stored_at.to_le_bytes());
    out.extend_from_slice(&(send.copies.len() as u32).to_le_bytes());
    for copy in &send.copies {
        out.extend_from_slice(&copy.seq.to_le_bytes());
        out.extend_from_slice(copy.mailbox.user.0.as_bytes());
        out.extend_from_slice(copy.mailbox.device.0.as_bytes());
        out.extend_from_slice(&copy.copies.to_le_bytes());
        out.extend_from_slice(&(copy.envelope.len() as u32).to_le_bytes());
        out.extend_from_slice(&copy.envelope);
    }
    end_entry(out, start);
}

/// Appends the receipt for `mailbox` as one entry to `out`.
pub fn encode_receipt((mailbox, receipt): (Mailbox, &StoredReceipt), out: &mut Vec<u8>) {
    let start = begin_entry(out, RECEIPT);
    out.extend_from_slice(mailbox.user.0.as_bytes());
    out.extend_from_slice(mailbox.device.0.as_bytes());
    out.extend_from_slice(&receipt.seq.to_le_bytes());
    out.extend_from_slice(receipt.id.as_bytes());
    out.push(receipt_kind_code(receipt.kind) as u8);
    out.extend_from_slice(receipt.message_id.as_bytes());
    out.extend_from_slice(receipt.peer.0.as_bytes());
    match receipt.peer_device {
        Some(device) => {
            out.push(1);
            out.extend_from_slice(device.0.as_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(&receipt.at.to_le_bytes());
    end_entry(out, start);
}

/// Starts an entry of `kind` in `out` (its header filled in by [`end_entry`]).
fn begin_entry(out: &mut Vec<u8>, kind: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.push(kind);
    start
}

fn end_entry(out: &mut [u8], start: usize) {
    let payload = &out[start + 8..];
    let (length, crc) = (payload.len() as u32, crc32fast::hash(payload));
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The entries at the start of `bytes` that are whole and intact.
pub fn decode_all(mut bytes: &[u8]) -> Journaled {
    let mut journaled = Journaled::default();
    while let Some((length, rest)) = take_u32(bytes)
        && let Some((crc, rest)) = take_u32(rest)
        && let Some(payload) = rest.get(..length as usize)
        && crc32fast::hash(payload) == crc
    {
        let mut r = Reader(payload);
        let decoded = match r.take(1) {
            Some([SEND]) => decode_send(r).map(|send| journaled.sends.push(send)),
            Some([RECEIPT]) => decode_receipt(r).map(|receipt| journaled.receipts.push(receipt)),
            _ => None,
        };
        if decoded.is_none() {
            break;
        }
        bytes = &rest[length as usize..];
    }
    journaled
}

/// A send's payload after its kind, or `None` if it is not one this build wrote.
fn decode_send(mut r: Reader<'_>) -> Option<JournaledSend> {
    let from = Mailbox { user: UserId(r.uuid()?), device: DeviceId(r.uuid()?) };
    let (id, addressee, stored_at) = (r.uuid()?, UserId(r.uuid()?), r.i64()?);
    let count = r.u32()?;
    let mut copies = Vec::new();
    for _ in 0..count {
        let seq = r.i64()?;
        let mailbox = Mailbox { user: UserId(r.uuid()?), device: DeviceId(r.uuid()?) };
        let copies_sent = r.i64()?;
        let length = r.u32()? as usize;
        copies.push(JournaledCopy { seq, mailbox, copies: copies_sent, envelope: r.take(length)?.to_vec() });
    }
    r.0.is_empty().then_some(JournaledSend { from, id, addressee, stored_at, copies })
}

/// A receipt's payload after its kind, or `None` if it is not one this build wrote.
fn decode_receipt(mut r: Reader<'_>) -> Option<(Mailbox, StoredReceipt)> {
    let mailbox = Mailbox { user: UserId(r.uuid()?), device: DeviceId(r.uuid()?) };
    let (seq, id, kind) = (r.i64()?, r.uuid()?, receipt_kind_from(i64::from(r.take(1)?[0])));
    let (message_id, peer) = (r.uuid()?, UserId(r.uuid()?));
    let peer_device = match r.take(1)? {
        [0] => None,
        _ => Some(DeviceId(r.uuid()?)),
    };
    let receipt = StoredReceipt { seq, id, kind, message_id, peer, peer_device, at: r.i64()? };
    r.0.is_empty().then_some((mailbox, receipt))
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_at_checked(4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), rest))
}

/// Reads a payload front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn uuid(&mut self) -> Option<Uuid> {
        Uuid::from_slice(self.take(16)?).ok()
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// The journal file: entries are written at its end, and it starts again empty or with a
/// few entries once what it held is written to the tables.
pub struct SendJournal {
    file: File,
    path: PathBuf,
    /// Its length: where the next entries go.
    len: u64,
}

impl SendJournal {
    /// The journal of the database at `database`.
    pub fn path_of(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_owned();
        name.push("-sends");
        PathBuf::from(name)
    }

    /// Opens (creating, owner-only) the journal at `path`, with what it holds: sends a
    /// process that ended without writing them to the tables had answered `stored`, and
    /// receipts it held only in memory.
    pub fn open(path: &Path) -> io::Result<(Self, Journaled)> {
        crate::data_dir::owner_only_file(path)?;
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let len = bytes.len() as u64;
        Ok((Self { file, path: path.to_owned(), len }, decode_all(&bytes)))
    }

    /// Appends `entries` (whole entries from [`encode`]) with one write.
    pub fn append(&mut self, entries: &[u8]) -> io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.file.write_all_at(entries, self.len)?;
        self.len += entries.len() as u64;
        Ok(())
    }

    /// Starts the journal again with `entries` only: everything it held is in the tables
    /// (committed), acked, or among `entries`. Without entries the file is cut to nothing
    /// (a process dying first leaves it whole: its sends are found written at start). With
    /// them, they go to a new file that replaces the journal in one `rename`, so a process
    /// dying at any point leaves the old journal or the new one, each whole. On an error the
    /// journal stays as it was, and appends go on after what it holds.
    pub fn restart(&mut self, entries: &[u8]) -> io::Result<()> {
        if entries.is_empty() {
            if self.len > 0 {
                self.file.set_len(0)?;
                self.len = 0;
            }
            return Ok(());
        }
        let mut next = self.path.as_os_str().to_owned();
        next.push(".next");
        let next = PathBuf::from(next);
        let _ = std::fs::remove_file(&next);
        crate::data_dir::owner_only_file(&next)?;
        let file = OpenOptions::new().write(true).open(&next)?;
        file.write_all_at(entries, 0)?;
        std::fs::rename(&next, &self.path)?;
        (self.file, self.len) = (file, entries.len() as u64);
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(n: u8) -> Mailbox {
        Mailbox { user: UserId(Uuid::from_bytes([n; 16])), device: DeviceId(Uuid::from_bytes([n + 100; 16])) }
    }

    fn send(n: u8, copies: usize) -> JournaledSend {
        JournaledSend {
            from: mailbox(n),
            id: Uuid::now_v7(),
            addressee: UserId(Uuid::from_bytes([n + 1; 16])),
            stored_at: 1_700_000_000 + i64::from(n),
            copies: (0..copies)
                .map(|i| JournaledCopy {
                    seq: 1_000 * i64::from(n) + i as i64,
                    mailbox: mailbox(n + 1 + i as u8),
                    copies: copies as i64,
                    envelope: vec![n; 300 + i],
                })
                .collect(),
        }
    }

    fn encoded(sends: &[JournaledSend]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in sends {
            encode(s, &mut out);
        }
        out
    }

    fn receipt(n: u8, peer_device: bool) -> (Mailbox, StoredReceipt) {
        let receipt = StoredReceipt {
            seq: 5_000 + i64::from(n),
            id: Uuid::now_v7(),
            kind: hush_shared::ws::ReceiptKind::Delivered,
            message_id: Uuid::now_v7(),
            peer: UserId(Uuid::from_bytes([n + 2; 16])),
            peer_device: peer_device.then(|| DeviceId(Uuid::from_bytes([n + 3; 16]))),
            at: 1_700_000_100 + i64::from(n),
        };
        (mailbox(n), receipt)
    }

    fn sends_only(sends: &[JournaledSend]) -> Journaled {
        Journaled { sends: sends.to_vec(), receipts: vec![] }
    }

    #[test]
    fn entries_read_back_as_written() {
        let sends = vec![send(1, 1), send(2, 3), send(3, 0)];
        let receipts = vec![receipt(4, false), receipt(5, true)];
        let mut bytes = encoded(&sends[..1]);
        for (mailbox, r) in &receipts {
            encode_receipt((*mailbox, r), &mut bytes);
        }
        bytes.extend(encoded(&sends[1..]));
        assert_eq!(decode_all(&bytes), Journaled { sends, receipts });
    }

    /// A write cut short anywhere in the last entry leaves the entries before it.
    #[test]
    fn a_torn_last_entry_is_left_out() {
        let sends = vec![send(1, 1), send(2, 2)];
        let bytes = encoded(&sends);
        let first = encoded(&sends[..1]).len();
        for cut in first..bytes.len() {
            assert_eq!(decode_all(&bytes[..cut]), sends_only(&sends[..1]), "cut at {cut}");
        }
    }

    /// A changed byte ends reading at its entry: nothing after it is trusted.
    #[test]
    fn a_damaged_entry_ends_reading() {
        let sends = vec![send(1, 1), send(2, 1), send(3, 1)];
        let mut bytes = encoded(&sends);
        let second = encoded(&sends[..1]).len();
        bytes[second + 40] ^= 1;
        assert_eq!(decode_all(&bytes), sends_only(&sends[..1]));
    }

    /// Appends add to the file; a restart leaves only its own entries, and what follows it
    /// is appended after them.
    #[test]
    fn the_file_keeps_what_was_appended_until_restarted() {
        let dir = std::env::temp_dir().join(format!("hush-send-journal-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = SendJournal::path_of(&dir.join("hush.db"));
        let sends = vec![send(1, 1), send(2, 2)];
        {
            let (mut journal, found) = SendJournal::open(&path).unwrap();
            assert_eq!(found, Journaled::default());
            journal.append(&encoded(&sends[..1])).unwrap();
            journal.append(&encoded(&sends[1..])).unwrap();
        }
        let (mut journal, found) = SendJournal::open(&path).unwrap();
        assert_eq!(found, sends_only(&sends));
        let kept = receipt(7, false);
        let mut entries = Vec::new();
        encode_receipt((kept.0, &kept.1), &mut entries);
        journal.restart(&entries).unwrap();
        journal.append(&encoded(&sends[1..])).unwrap();
        drop(journal);
        let (mut journal, found) = SendJournal::open(&path).unwrap();
        assert_eq!(found, Journaled { sends: sends[1..].to_vec(), receipts: vec![kept] });
        journal.restart(&[]).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no file left beside it");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
