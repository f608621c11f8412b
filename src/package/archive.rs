//! The Lambda zip: one entry, `bootstrap`, whose bytes depend on the binary and nothing else.

use std::io::{Cursor, Write};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// The entry the `provided.al2023` runtime executes.
pub const ENTRY: &str = "bootstrap";
/// `rwxr-xr-x`: Lambda runs the entry as a non-root user.
pub const MODE: u32 = 0o755;
/// Deflate level: fixed, so the output depends only on the input and the (locked) zlib-rs.
pub const DEFLATE_LEVEL: i64 = 9;

/// A zip with the single entry `bootstrap` holding `binary`: Unix mode 0755, timestamp
/// 1980-01-01 00:00 (the zip epoch), deflate level [`DEFLATE_LEVEL`], no extra fields. The same
/// binary always gives the same bytes, wherever and whenever it is packaged.
pub fn bootstrap_zip(binary: &[u8]) -> zip::result::ZipResult<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(DateTime::default())
        .system(System::Unix)
        .unix_permissions(MODE)
        .large_file(false);
    let mut zip = ZipWriter::new(Cursor::new(Vec::with_capacity(binary.len() / 2)));
    zip.start_file(ENTRY, options)?;
    zip.write_all(binary)?;
    Ok(zip.finish()?.into_inner())
}

/// `base64(sha256(bytes))`: what Terraform's `filebase64sha256()` returns and what
/// `aws_lambda_function.source_code_hash` is compared with.
pub fn base64_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Lowercase hex SHA-256.
pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn same_binary_same_bytes() {
        let binary: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let a = bootstrap_zip(&binary).unwrap();
        let b = bootstrap_zip(&binary).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, bootstrap_zip(&binary[1..]).unwrap());
    }

    #[test]
    fn single_executable_bootstrap_entry_at_the_zip_epoch() {
        let zip = bootstrap_zip(b"\x7fELF not really").unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode(), Some(0o100755));
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
        let time = entry.last_modified().unwrap();
        assert_eq!((time.year(), time.month(), time.day()), (1980, 1, 1));
        assert_eq!((time.hour(), time.minute(), time.second()), (0, 0, 0));
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, b"\x7fELF not really");
    }

    #[test]
    fn hash_is_base64_of_raw_sha256() {
        // sha256("") = e3b0c442...b855; its raw bytes in standard base64:
        assert_eq!(
            base64_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            hex_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
