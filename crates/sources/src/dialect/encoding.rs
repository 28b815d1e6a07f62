//! Text encodings of input files, decoded to UTF-8 by `encoding_rs`.

use std::borrow::Cow;

use serde::Deserialize;

/// The encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    /// Windows-1252, which is also how Latin-1 (ISO-8859-1) files are read.
    #[serde(
        rename = "windows-1252",
        alias = "latin-1",
        alias = "latin1",
        alias = "iso-8859-1",
        alias = "cp1252"
    )]
    Windows1252,
    /// UTF-16, recognised by its byte-order mark only.
    #[serde(rename = "utf-16")]
    Utf16,
}

impl Encoding {
    /// The encoding of content that is (`cut` false) or starts with (`cut` true) `bytes`: UTF-16
    /// if it starts with a UTF-16 byte-order mark, UTF-8 if it is valid UTF-8 (in a cut sample,
    /// a multi-byte character cut by its end does not count against it), else Windows-1252.
    pub fn detect(bytes: &[u8], cut: bool) -> Self {
        if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
            return Self::Utf16;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Self::Utf8,
            // error_len() is None when the input ends inside a character.
            Err(e) if cut && e.error_len().is_none() => Self::Utf8,
            Err(_) => Self::Windows1252,
        }
    }

    /// The name used in configuration and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Windows1252 => "Windows-1252",
            Self::Utf16 => "UTF-16",
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `content` as UTF-8 bytes, without a byte-order mark. UTF-8 content is borrowed as it is
/// (invalid sequences stay, for the field that holds them to report); other encodings are
/// decoded (UTF-16's unpaired surrogates become U+FFFD).
pub fn decode(content: &[u8], encoding: Encoding) -> Cow<'_, [u8]> {
    match encoding {
        Encoding::Utf8 => Cow::Borrowed(content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content)),
        Encoding::Windows1252 => match encoding_rs::WINDOWS_1252.decode_without_bom_handling(content).0 {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        },
        Encoding::Utf16 => {
            let (codec, bom) = encoding_rs::Encoding::for_bom(content).unwrap_or((encoding_rs::UTF_16LE, 0));
            Cow::Owned(codec.decode_without_bom_handling(&content[bom..]).0.into_owned().into_bytes())
        }
    }
}

/// One line decoded: as it is when it is UTF-8, else as Windows-1252 (what a reader with a
/// detected encoding does with a line that turns out not to be UTF-8).
pub fn decode_line(line: &[u8]) -> Cow<'_, [u8]> {
    match std::str::from_utf8(line) {
        Ok(_) => Cow::Borrowed(line),
        Err(_) => decode(line, Encoding::Windows1252),
    }
}
