//! Reading `\n`-separated lines (or `\r`-separated: old Mac files) with bounded memory, whatever
//! the input.
//!
//! A line longer than the limit is not kept: its first bytes are (for a dead letter), the rest is
//! skipped as it is read, and its full length is counted. A trailing line without `\n` counts.

use std::io::BufRead;

/// One line of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line within the limit, without its `\n` (a `\r` before it is kept).
    Data { number: u64, bytes: Vec<u8> },
    /// A line over the limit: its first `head` bytes and its full length.
    TooLong { number: u64, len: u64, head: Vec<u8> },
}

/// How many bytes of an over-long line are kept.
pub const TOO_LONG_HEAD: usize = 1024;

/// Reads [`Line`]s: by [`next_line`](Self::next_line) without copying where a line lies whole in
/// the reader's buffer (the hot path of the file sources), or as an iterator of owned lines.
pub struct BoundedLines<R> {
    input: R,
    max: usize,
    /// The byte that ends a line: `\n` (a `\r` before it stays in the line), or `\r`.
    terminator: u8,
    number: u64,
    done: bool,
    /// Bytes of the input buffer that the line last lent out occupies, consumed on the next call.
    lent: usize,
    /// A line that spans buffer refills, or the head of an over-long line.
    spill: Vec<u8>,
}

/// One line, borrowed from the reader (see [`Line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRef<'a> {
    Data { number: u64, bytes: &'a [u8] },
    TooLong { number: u64, len: u64, head: &'a [u8] },
}

impl<R: BufRead> BoundedLines<R> {
    /// Lines of at most `max` bytes from `input`.
    pub fn new(input: R, max: usize) -> Self {
        Self::with_terminator(input, max, b'\n')
    }

    /// Lines ended by `terminator` (`\r` for files whose lines end in CR alone).
    pub fn with_terminator(input: R, max: usize, terminator: u8) -> Self {
        Self { input, max, terminator, number: 0, done: false, lent: 0, spill: Vec::new() }
    }

    /// Bytes consumed so far are not tracked; the line number of the last line returned is.
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// The next line, borrowed until the next call; `None` at the end, `Err` on an I/O error
    /// (which also ends the lines).
    pub fn next_line(&mut self) -> Option<std::io::Result<LineRef<'_>>> {
        self.input.consume(std::mem::take(&mut self.lent));
        if self.done {
            return None;
        }
        self.spill.clear();
        let mut len: u64 = 0;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if buf.is_empty() {
                self.done = true;
                if len == 0 {
                    return None;
                }
                break;
            }
            let newline = memchr::memchr(self.terminator, buf);
            if len == 0
                && let Some(i) = newline
                && i <= self.max
            {
                // The common case: the whole line is in the buffer. Lend it; consume it later.
                self.number += 1;
                self.lent = i + 1;
                let bytes = &self.input.fill_buf().expect("buffered bytes are still there")[..i];
                return Some(Ok(LineRef::Data { number: self.number, bytes }));
            }
            let (piece, consumed, complete) = match newline {
                Some(i) => (&buf[..i], i + 1, true),
                None => (buf, buf.len(), false),
            };
            len += piece.len() as u64;
            if len <= self.max as u64 {
                self.spill.extend_from_slice(piece);
            } else if self.spill.len() < TOO_LONG_HEAD {
                let room = TOO_LONG_HEAD - self.spill.len();
                self.spill.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            self.input.consume(consumed);
            if complete {
                break;
            }
        }
        self.number += 1;
        let number = self.number;
        Some(Ok(if len > self.max as u64 {
            self.spill.truncate(TOO_LONG_HEAD);
            LineRef::TooLong { number, len, head: &self.spill }
        } else {
            LineRef::Data { number, bytes: &self.spill }
        }))
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = std::io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_line()?.map(|line| match line {
            LineRef::Data { number, bytes } => Line::Data { number, bytes: bytes.to_vec() },
            LineRef::TooLong { number, len, head } => Line::TooLong { number, len, head: head.to_vec() },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        BoundedLines::new(std::io::BufReader::with_capacity(7, input), max).map(|l| l.unwrap()).collect()
    }

    #[test]
    fn splits_on_newline_only_keeping_other_bytes() {
        assert_eq!(
            lines(b"a\r\n\nb\xff\x00c\nlast", 100),
            vec![
                Line::Data { number: 1, bytes: b"a\r".to_vec() },
                Line::Data { number: 2, bytes: vec![] },
                Line::Data { number: 3, bytes: b"b\xff\x00c".to_vec() },
                Line::Data { number: 4, bytes: b"last".to_vec() },
            ]
        );
    }

    #[test]
    fn lent_lines_equal_owned_lines_whatever_the_buffer_size() {
        let input = b"first\r\n\nsecond line\n0123456789012345\nx\nlast".to_vec();
        let owned = lines(&input, 12);
        for capacity in 1..=input.len() + 1 {
            let mut lent = Vec::new();
            let mut reader = BoundedLines::new(std::io::BufReader::with_capacity(capacity, &input[..]), 12);
            while let Some(line) = reader.next_line() {
                lent.push(match line.unwrap() {
                    LineRef::Data { number, bytes } => Line::Data { number, bytes: bytes.to_vec() },
                    LineRef::TooLong { number, len, head } => {
                        Line::TooLong { number, len, head: head.to_vec() }
                    }
                });
            }
            assert_eq!(lent, owned, "buffer of {capacity} bytes");
        }
        assert!(matches!(owned[3], Line::TooLong { number: 4, len: 16, .. }));
    }

    #[test]
    fn over_long_lines_keep_only_a_head() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend(b"\nfine");
        let got = lines(&input, 10);
        assert_eq!(got[0], Line::Data { number: 1, bytes: b"ok".to_vec() });
        match &got[1] {
            Line::TooLong { number: 2, len: 5000, head } => assert_eq!(head.len(), TOO_LONG_HEAD),
            other => panic!("{other:?}"),
        }
        assert_eq!(got[2], Line::Data { number: 3, bytes: b"fine".to_vec() });
    }
}
