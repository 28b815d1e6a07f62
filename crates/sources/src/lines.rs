//! Reading `\n`-separated lines with bounded memory, whatever the input.
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

/// An iterator of [`Line`]s; I/O errors end it with `Err`.
pub struct BoundedLines<R> {
    input: R,
    max: usize,
    number: u64,
    done: bool,
}

impl<R: BufRead> BoundedLines<R> {
    /// Lines of at most `max` bytes from `input`.
    pub fn new(input: R, max: usize) -> Self {
        Self { input, max, number: 0, done: false }
    }

    /// Bytes consumed so far are not tracked; the line number of the last line returned is.
    pub fn line_number(&self) -> u64 {
        self.number
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = std::io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut line = Vec::new();
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
            let (piece, consumed, complete) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (&buf[..i], i + 1, true),
                None => (buf, buf.len(), false),
            };
            len += piece.len() as u64;
            if len <= self.max as u64 {
                line.extend_from_slice(piece);
            } else if line.len() < TOO_LONG_HEAD {
                let room = TOO_LONG_HEAD - line.len();
                line.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            self.input.consume(consumed);
            if complete {
                break;
            }
        }
        self.number += 1;
        let number = self.number;
        Some(Ok(if len > self.max as u64 {
            line.truncate(TOO_LONG_HEAD);
            line.shrink_to_fit();
            Line::TooLong { number, len, head: line }
        } else {
            Line::Data { number, bytes: line }
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
