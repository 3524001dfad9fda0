//! The keystore: one file holding a member's BIP39 mnemonic (and optional BIP39 passphrase), encrypted
//! under a key derived from the operator's file passphrase.
//!
//! # Format (version 1)
//!
//! ```text
//! offset  size  field
//! 0       8     magic "IGRAKEY1"
//! 8       1     format version = 1
//! 9       1     KDF id = 1 (Argon2id)
//! 10      1     KDF version = 0x13 (Argon2 1.3)
//! 11      4     m_cost in KiB, u32 little endian
//! 15      4     t_cost (passes), u32 LE
//! 19      4     p_cost (lanes), u32 LE
//! 23      1     salt length s, 16..=32
//! 24      s     salt
//! 24+s    24    XChaCha20 nonce
//! 48+s    ..    XChaCha20-Poly1305 ciphertext of the payload, then its 16-byte tag
//! ```
//!
//! The whole header (everything before the ciphertext) is the AEAD's associated data, so changing any
//! parameter, the salt or the nonce makes decryption fail exactly as a wrong passphrase does. The
//! payload is `u16 LE length ‖ mnemonic ‖ u16 LE length ‖ BIP39 passphrase`, both UTF-8.
//!
//! Files are written to a temporary file in the same directory with mode 0600, synced, then moved into
//! place (a hard link for [`Keystore::create`], which must not overwrite; a rename for
//! [`Keystore::rotate`]), and the directory is synced. [`Keystore::open`] refuses a file that group or
//! others may read.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use igra_proto::LocalSigner;
use igra_proto::keys::KeyError;
use zeroize::Zeroizing;

/// The file's first bytes.
pub const MAGIC: [u8; 8] = *b"IGRAKEY1";
/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// KDF id of Argon2id.
pub const KDF_ARGON2ID: u8 = 1;
/// Argon2 version 1.3, the only one used.
pub const ARGON2_VERSION: u8 = 0x13;
/// Salt written by this build: the longest allowed.
pub const SALT_BYTES: usize = 32;
/// Shortest salt accepted (RFC 9106 recommends 16 bytes).
pub const MIN_SALT_BYTES: usize = 16;
/// The `XChaCha20` nonce: long enough to be drawn at random without collision worries.
pub const NONCE_BYTES: usize = 24;
/// Poly1305 tag.
const TAG_BYTES: usize = 16;
/// Header length before the salt.
const FIXED_HEADER_BYTES: usize = 24;
/// A keystore holds a few hundred bytes; anything larger is not one, so it is refused before reading.
pub const MAX_FILE_BYTES: u64 = 16 * 1024;

/// Least memory accepted outside tests, in KiB: OWASP's Argon2id floor (19 MiB with t = 2).
pub const MIN_M_COST_KIB: u32 = 19 * 1024;
/// Fewest passes accepted outside tests.
pub const MIN_T_COST: u32 = 2;
/// Most memory accepted, in KiB: a tampered header must not make `open` allocate without bound.
pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
/// Most passes accepted, for the same reason.
pub const MAX_T_COST: u32 = 64;
/// Most lanes accepted.
pub const MAX_P_COST: u32 = 16;

/// Argon2id cost parameters, stored in the file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about a quarter of a second on a server core, above RFC 9106's
    /// second recommended option (64 MiB, t = 3, p = 4) in cost per guess for an attacker who
    /// parallelises anyway; one lane because the key is derived once per start, not per request.
    fn default() -> Self {
        Self { m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 }
    }
}

impl KdfParams {
    /// Tiny parameters that make tests fast. Accepted only by test builds of this crate.
    #[cfg(test)]
    pub const fn insecure_for_tests() -> Self {
        Self { m_cost_kib: 64, t_cost: 1, p_cost: 1 }
    }

    /// Refuses parameters below the floor (outside tests) or above the ceiling.
    fn check(self) -> Result<(), KeystoreError> {
        let weak = !cfg!(test) && (self.m_cost_kib < MIN_M_COST_KIB || self.t_cost < MIN_T_COST);
        let huge = self.m_cost_kib > MAX_M_COST_KIB || self.t_cost > MAX_T_COST || self.p_cost > MAX_P_COST;
        if weak || huge || self.p_cost == 0 || self.t_cost == 0 {
            return Err(KeystoreError::WeakParameters(self));
        }
        Ok(())
    }
}

/// Why a keystore could not be created, opened or rotated.
#[derive(Debug)]
pub enum KeystoreError {
    /// No file at the path.
    NotFound(PathBuf),
    /// `create` found a file at the path and left it alone.
    AlreadyExists(PathBuf),
    /// Reading or writing failed.
    Io(io::Error),
    /// The file does not start with `IGRAKEY1`: it is not a keystore.
    BadMagic,
    /// A format version this build does not know.
    UnsupportedVersion(u8),
    /// A KDF (id, version) this build does not know.
    UnsupportedKdf {
        /// KDF id.
        id: u8,
        /// KDF version.
        version: u8,
    },
    /// KDF parameters below the floor or above the ceiling (see [`MIN_M_COST_KIB`], [`MAX_M_COST_KIB`]).
    WeakParameters(KdfParams),
    /// Authentication failed: the passphrase is wrong or the file was altered. The AEAD cannot tell
    /// which, and neither can we.
    WrongPassphraseOrTampered,
    /// The file may be read by group or others (its Unix mode is shown).
    InsecurePermissions(u32),
    /// The file is truncated or its decrypted payload is malformed.
    Corrupt(&'static str),
    /// The passphrase for the file is empty.
    EmptyPassphrase,
    /// The stored mnemonic does not derive keys.
    Key(KeyError),
}

impl fmt::Display for KeystoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(p) => write!(f, "no keystore at {}", p.display()),
            Self::AlreadyExists(p) => write!(f, "{} exists; refusing to overwrite it", p.display()),
            Self::Io(e) => write!(f, "keystore i/o: {e}"),
            Self::BadMagic => f.write_str("not an Igra keystore (bad magic)"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported keystore format version {v}"),
            Self::UnsupportedKdf { id, version } => write!(f, "unsupported KDF id {id} version {version:#x}"),
            Self::WeakParameters(p) => write!(
                f,
                "KDF parameters m={} KiB t={} p={} are outside the allowed range (m >= {MIN_M_COST_KIB} KiB, \
                 t >= {MIN_T_COST})",
                p.m_cost_kib, p.t_cost, p.p_cost
            ),
            Self::WrongPassphraseOrTampered => f.write_str("wrong passphrase, or the keystore was altered"),
            Self::InsecurePermissions(mode) => {
                write!(f, "keystore mode is {mode:o}; it must not be readable by group or others (chmod 600)")
            }
            Self::Corrupt(what) => write!(f, "corrupt keystore: {what}"),
            Self::EmptyPassphrase => f.write_str("the keystore passphrase must not be empty"),
            Self::Key(e) => write!(f, "stored mnemonic: {e}"),
        }
    }
}

impl std::error::Error for KeystoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Key(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for KeystoreError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// The decrypted contents of a keystore; zeroized when dropped.
pub struct Secrets {
    mnemonic: Zeroizing<String>,
    bip39_passphrase: Zeroizing<String>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

impl Secrets {
    /// The BIP39 mnemonic.
    pub fn mnemonic(&self) -> &str {
        &self.mnemonic
    }

    /// The BIP39 passphrase (empty if none).
    pub fn bip39_passphrase(&self) -> &str {
        &self.bip39_passphrase
    }

    /// The member's signer, derived as [`LocalSigner::from_mnemonic`] does.
    pub fn signer(&self) -> Result<LocalSigner, KeystoreError> {
        LocalSigner::from_mnemonic(&self.mnemonic, &self.bip39_passphrase).map_err(KeystoreError::Key)
    }
}

/// The keystore file operations.
pub struct Keystore;

impl Keystore {
    /// Encrypts `mnemonic` (checked to derive keys) and `bip39_passphrase` under `file_passphrase` into a
    /// new file at `path`; refuses to overwrite an existing file.
    pub fn create(
        path: &Path,
        mnemonic: &str,
        bip39_passphrase: &str,
        file_passphrase: &str,
        params: KdfParams,
    ) -> Result<(), KeystoreError> {
        params.check()?;
        LocalSigner::from_mnemonic(mnemonic, bip39_passphrase).map_err(KeystoreError::Key)?;
        if path.exists() {
            return Err(KeystoreError::AlreadyExists(path.to_path_buf()));
        }
        let secrets = Secrets {
            mnemonic: Zeroizing::new(mnemonic.to_owned()),
            bip39_passphrase: Zeroizing::new(bip39_passphrase.to_owned()),
        };
        let bytes = seal(&secrets, file_passphrase, params)?;
        write_atomically(path, &bytes, Replace::Never)
    }

    /// Decrypts the keystore at `path`.
    pub fn open(path: &Path, file_passphrase: &str) -> Result<Secrets, KeystoreError> {
        let bytes = read_private(path)?;
        unseal(&bytes, file_passphrase)
    }

    /// Re-encrypts the keystore under `new_passphrase` with a fresh salt and nonce and the same KDF
    /// parameters, replacing the file atomically. The secrets do not change.
    pub fn rotate(path: &Path, old_passphrase: &str, new_passphrase: &str) -> Result<(), KeystoreError> {
        let bytes = read_private(path)?;
        let header = Header::parse(&bytes)?;
        let secrets = unseal(&bytes, old_passphrase)?;
        let sealed = seal(&secrets, new_passphrase, header.params)?;
        // Never replace a working file with one that does not open.
        let check = unseal(&sealed, new_passphrase)?;
        if check.mnemonic != secrets.mnemonic || check.bip39_passphrase != secrets.bip39_passphrase {
            return Err(KeystoreError::Corrupt("re-encrypted payload differs"));
        }
        write_atomically(path, &sealed, Replace::Always)
    }
}

/// The parsed header of a keystore file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    params: KdfParams,
    salt: [u8; SALT_BYTES],
    salt_len: usize,
    nonce: [u8; NONCE_BYTES],
}

impl Header {
    /// The header's length in the file; also the length of the associated data.
    fn len(&self) -> usize {
        FIXED_HEADER_BYTES + self.salt_len + NONCE_BYTES
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[FORMAT_VERSION, KDF_ARGON2ID, ARGON2_VERSION]);
        out.extend_from_slice(&self.params.m_cost_kib.to_le_bytes());
        out.extend_from_slice(&self.params.t_cost.to_le_bytes());
        out.extend_from_slice(&self.params.p_cost.to_le_bytes());
        // The salt length is at most SALT_BYTES (32), so it fits a byte.
        out.push(u8::try_from(self.salt_len).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.salt[..self.salt_len]);
        out.extend_from_slice(&self.nonce);
        out
    }

    fn parse(bytes: &[u8]) -> Result<Self, KeystoreError> {
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            return Err(KeystoreError::BadMagic);
        }
        let fixed = bytes.get(..FIXED_HEADER_BYTES).ok_or(KeystoreError::Corrupt("truncated header"))?;
        if fixed[8] != FORMAT_VERSION {
            return Err(KeystoreError::UnsupportedVersion(fixed[8]));
        }
        if fixed[9] != KDF_ARGON2ID || fixed[10] != ARGON2_VERSION {
            return Err(KeystoreError::UnsupportedKdf { id: fixed[9], version: fixed[10] });
        }
        let u32_at = |at: usize| u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]);
        let params = KdfParams { m_cost_kib: u32_at(11), t_cost: u32_at(15), p_cost: u32_at(19) };
        params.check()?;
        let salt_len = usize::from(fixed[23]);
        if !(MIN_SALT_BYTES..=SALT_BYTES).contains(&salt_len) {
            return Err(KeystoreError::Corrupt("salt length out of range"));
        }
        let rest = &bytes[FIXED_HEADER_BYTES..];
        if rest.len() < salt_len + NONCE_BYTES + TAG_BYTES {
            return Err(KeystoreError::Corrupt("truncated"));
        }
        let mut salt = [0; SALT_BYTES];
        salt[..salt_len].copy_from_slice(&rest[..salt_len]);
        let mut nonce = [0; NONCE_BYTES];
        nonce.copy_from_slice(&rest[salt_len..salt_len + NONCE_BYTES]);
        Ok(Self { params, salt, salt_len, nonce })
    }
}

/// Encrypts `secrets` under a fresh salt and nonce.
fn seal(secrets: &Secrets, passphrase: &str, params: KdfParams) -> Result<Vec<u8>, KeystoreError> {
    if passphrase.is_empty() {
        return Err(KeystoreError::EmptyPassphrase);
    }
    let mut header = Header { params, salt: [0; SALT_BYTES], salt_len: SALT_BYTES, nonce: [0; NONCE_BYTES] };
    getrandom::fill(&mut header.salt).map_err(|e| KeystoreError::Io(io::Error::other(e)))?;
    getrandom::fill(&mut header.nonce).map_err(|e| KeystoreError::Io(io::Error::other(e)))?;
    let aad = header.encode();
    let mut buffer = encode_payload(secrets)?;
    cipher(passphrase, &header)?
        .encrypt_in_place(&XNonce::from(header.nonce), &aad, &mut *buffer)
        .map_err(|_| KeystoreError::Corrupt("payload too long to encrypt"))?;
    let mut out = aad;
    out.extend_from_slice(&buffer);
    Ok(out)
}

/// Authenticates and decrypts a whole keystore file.
fn unseal(bytes: &[u8], passphrase: &str) -> Result<Secrets, KeystoreError> {
    let header = Header::parse(bytes)?;
    let (aad, ciphertext) = bytes.split_at(header.len());
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    cipher(passphrase, &header)?
        .decrypt_in_place(&XNonce::from(header.nonce), aad, &mut *buffer)
        .map_err(|_| KeystoreError::WrongPassphraseOrTampered)?;
    decode_payload(&buffer)
}

/// The AEAD keyed by Argon2id over the passphrase and the header's salt.
fn cipher(passphrase: &str, header: &Header) -> Result<XChaCha20Poly1305, KeystoreError> {
    let params = Params::new(header.params.m_cost_kib, header.params.t_cost, header.params.p_cost, Some(32))
        .map_err(|_| KeystoreError::WeakParameters(header.params))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &header.salt[..header.salt_len], &mut *key)
        .map_err(|_| KeystoreError::WeakParameters(header.params))?;
    XChaCha20Poly1305::new_from_slice(&*key).map_err(|_| KeystoreError::Corrupt("key length"))
}

fn encode_payload(secrets: &Secrets) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let mut out =
        Zeroizing::new(Vec::with_capacity(4 + secrets.mnemonic.len() + secrets.bip39_passphrase.len()));
    for field in [secrets.mnemonic.as_bytes(), secrets.bip39_passphrase.as_bytes()] {
        let len =
            u16::try_from(field.len()).map_err(|_| KeystoreError::Corrupt("secret longer than 64 KiB"))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(field);
    }
    Ok(out)
}

fn decode_payload(mut bytes: &[u8]) -> Result<Secrets, KeystoreError> {
    let mut field = || -> Result<Zeroizing<String>, KeystoreError> {
        let (len, rest) =
            bytes.split_first_chunk::<2>().ok_or(KeystoreError::Corrupt("payload truncated"))?;
        let len = usize::from(u16::from_le_bytes(*len));
        let text = rest.get(..len).ok_or(KeystoreError::Corrupt("payload truncated"))?;
        bytes = &rest[len..];
        let text = std::str::from_utf8(text).map_err(|_| KeystoreError::Corrupt("payload is not UTF-8"))?;
        Ok(Zeroizing::new(text.to_owned()))
    };
    let mnemonic = field()?;
    let bip39_passphrase = field()?;
    if !bytes.is_empty() {
        return Err(KeystoreError::Corrupt("trailing payload bytes"));
    }
    Ok(Secrets { mnemonic, bip39_passphrase })
}

/// Reads a keystore file after checking that only its owner may read it.
fn read_private(path: &Path) -> Result<Vec<u8>, KeystoreError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => KeystoreError::NotFound(path.to_path_buf()),
        _ => KeystoreError::Io(e),
    })?;
    let metadata = file.metadata()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeystoreError::InsecurePermissions(mode));
        }
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(KeystoreError::Corrupt("file too large"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether the final move may replace an existing file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replace {
    Never,
    Always,
}

/// Writes `bytes` to a 0600 temporary file next to `path`, syncs it, moves it into place and syncs the
/// directory, so that `path` holds either the old or the new contents after a crash.
fn write_atomically(path: &Path, bytes: &[u8], replace: Replace) -> Result<(), KeystoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or(KeystoreError::Corrupt("keystore path has no file name"))?;
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| KeystoreError::Io(io::Error::other(e)))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), hex::encode(tag)));
    let result = write_then_move(&tmp, path, bytes, replace);
    // The temporary name is gone after a rename; after a link or a failure it must be removed.
    let _ = fs::remove_file(&tmp);
    result?;
    File::open(&dir)?.sync_all()?;
    Ok(())
}

fn write_then_move(tmp: &Path, path: &Path, bytes: &[u8], replace: Replace) -> Result<(), KeystoreError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    match replace {
        // A hard link fails if the target exists: no window in which another file could be replaced.
        Replace::Never => fs::hard_link(tmp, path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => KeystoreError::AlreadyExists(path.to_path_buf()),
            _ => KeystoreError::Io(e),
        }),
        Replace::Always => fs::rename(tmp, path).map_err(KeystoreError::Io),
    }
}

#[cfg(test)]
mod tests;
