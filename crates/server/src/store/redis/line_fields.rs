//! The lines the Redis mailbox keeps — a copy's first line (`copy_value.rs`), a receipt
//! (`receipt_value.rs`) — read field by field from their bytes: an id by its width (36
//! bytes: every writer of these lines writes ids hyphenated), a short field up to the next
//! space or line end. Read as text split at each space, with an id parsed from each piece,
//! they were about 5 % of `hush-server`'s instructions in `saturate` on Redis (BENCHMARKS.md,
//! "The Redis mailbox's own work in the server").

use uuid::Uuid;

/// The width of a hyphenated id.
const ID_LEN: usize = 36;

/// What is left of a line to read.
pub(super) struct LineFields<'a> {
    rest: &'a [u8],
}

impl<'a> LineFields<'a> {
    pub fn new(line: &'a [u8]) -> Self {
        Self { rest: line }
    }

    /// A hyphenated id.
    pub fn id(&mut self) -> Option<Uuid> {
        let (id, rest) = self.rest.split_at_checked(ID_LEN)?;
        self.rest = rest;
        Uuid::try_parse_ascii(id).ok()
    }

    /// The bytes up to the next space or line end (or the end).
    pub fn word(&mut self) -> &'a [u8] {
        let end = self.rest.iter().position(|&b| b == b' ' || b == b'\n').unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        word
    }

    /// A decimal number up to the next space or line end.
    pub fn number(&mut self) -> Option<i64> {
        std::str::from_utf8(self.word()).ok()?.parse().ok()
    }

    /// Reads `byte`, which must come next.
    pub fn skip(&mut self, byte: u8) -> Option<()> {
        self.rest = self.rest.strip_prefix(&[byte])?;
        Some(())
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_order_and_a_short_or_bad_id_is_refused() {
        let id = Uuid::now_v7();
        let line = format!("{id} read -5\n{id}x");
        let mut fields = LineFields::new(line.as_bytes());
        assert_eq!(fields.id(), Some(id));
        assert_eq!(fields.skip(b' '), Some(()));
        assert_eq!(fields.word(), b"read");
        assert_eq!(fields.skip(b'\n'), None);
        assert_eq!(fields.skip(b' '), Some(()));
        assert_eq!(fields.number(), Some(-5));
        assert_eq!(fields.skip(b'\n'), Some(()));
        assert_eq!(fields.rest(), format!("{id}x").as_bytes());
        assert_eq!(LineFields::new(&line.as_bytes()[..35]).id(), None);
        assert_eq!(LineFields::new(b"zzzzzzzz-0000-0000-0000-000000000000").id(), None);
        assert_eq!(LineFields::new(b"12x").number(), None);
        assert_eq!(LineFields::new(b"").number(), None);
    }
}
