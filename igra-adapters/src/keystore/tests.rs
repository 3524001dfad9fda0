use std::path::PathBuf;

use igra_proto::{LocalSigner, Signer};
use tempfile::TempDir;

use super::*;

/// The BIP39 test vector of 24 words (all "abandon" but the checksum word).
const MNEMONIC: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                        abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                        abandon art";

fn fresh() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("member.key");
    Keystore::create(&path, MNEMONIC, "extra", "file pass", KdfParams::insecure_for_tests()).unwrap();
    (dir, path)
}

fn keys(signer: &LocalSigner) -> (igra_proto::IdentityPublicKey, igra_proto::SigningPublicKey) {
    (signer.identity_public_key(), signer.signing_public_key())
}

/// Changes one byte of the file at `at` (keeping its 0600 mode).
fn flip(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

#[test]
fn create_then_open_gives_the_mnemonics_keys() {
    let (_dir, path) = fresh();
    let secrets = Keystore::open(&path, "file pass").unwrap();
    assert_eq!(secrets.mnemonic(), MNEMONIC);
    assert_eq!(secrets.bip39_passphrase(), "extra");
    let expected = LocalSigner::from_mnemonic(MNEMONIC, "extra").unwrap();
    assert_eq!(keys(&secrets.signer().unwrap()), keys(&expected));
    assert_eq!(format!("{secrets:?}"), "Secrets { .. }", "Debug must not print secrets");
}

#[cfg(unix)]
#[test]
fn created_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, path) = fresh();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
}

#[test]
fn header_layout_is_as_documented() {
    let (_dir, path) = fresh();
    let bytes = fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"IGRAKEY1");
    assert_eq!(bytes[8..11], [FORMAT_VERSION, KDF_ARGON2ID, 0x13]);
    assert_eq!(bytes[11..15], 64u32.to_le_bytes());
    assert_eq!(usize::from(bytes[23]), SALT_BYTES);
    let payload = 2 + MNEMONIC.len() + 2 + "extra".len();
    assert_eq!(bytes.len(), FIXED_HEADER_BYTES + SALT_BYTES + NONCE_BYTES + payload + TAG_BYTES);
}

#[test]
fn wrong_passphrase_is_refused() {
    let (_dir, path) = fresh();
    assert!(matches!(Keystore::open(&path, "other"), Err(KeystoreError::WrongPassphraseOrTampered)));
}

#[test]
fn every_tampered_header_byte_is_refused() {
    let (_dir, path) = fresh();
    let original = fs::read(&path).unwrap();
    let header_len = FIXED_HEADER_BYTES + SALT_BYTES + NONCE_BYTES;
    // An m_cost byte, a salt byte and a nonce byte: parsed fine, caught by the AEAD.
    for at in [11, FIXED_HEADER_BYTES + 3, header_len - 1] {
        fs::write(&path, &original).unwrap();
        flip(&path, at);
        let err = Keystore::open(&path, "file pass").unwrap_err();
        assert!(matches!(err, KeystoreError::WrongPassphraseOrTampered), "byte {at}: {err:?}");
    }
}

#[test]
fn tampered_ciphertext_and_tag_are_refused() {
    let (_dir, path) = fresh();
    let original = fs::read(&path).unwrap();
    for at in [FIXED_HEADER_BYTES + SALT_BYTES + NONCE_BYTES, original.len() - 1] {
        fs::write(&path, &original).unwrap();
        flip(&path, at);
        assert!(matches!(Keystore::open(&path, "file pass"), Err(KeystoreError::WrongPassphraseOrTampered)));
    }
}

#[test]
fn bad_magic_version_and_kdf_are_refused() {
    let (_dir, path) = fresh();
    let original = fs::read(&path).unwrap();
    flip(&path, 0);
    assert!(matches!(Keystore::open(&path, "file pass"), Err(KeystoreError::BadMagic)));
    fs::write(&path, &original).unwrap();
    flip(&path, 8);
    assert!(matches!(Keystore::open(&path, "file pass"), Err(KeystoreError::UnsupportedVersion(0))));
    fs::write(&path, &original).unwrap();
    flip(&path, 9);
    assert!(matches!(
        Keystore::open(&path, "file pass"),
        Err(KeystoreError::UnsupportedKdf { id: 0, version: 0x13 })
    ));
    fs::write(&path, &original).unwrap();
    flip(&path, 10);
    assert!(matches!(Keystore::open(&path, "file pass"), Err(KeystoreError::UnsupportedKdf { id: 1, .. })));
}

#[test]
fn truncated_files_are_corrupt() {
    let (_dir, path) = fresh();
    let original = fs::read(&path).unwrap();
    for len in [12, FIXED_HEADER_BYTES + 10, FIXED_HEADER_BYTES + SALT_BYTES + NONCE_BYTES + 3] {
        fs::write(&path, &original[..len]).unwrap();
        assert!(matches!(Keystore::open(&path, "file pass"), Err(KeystoreError::Corrupt(_))), "length {len}");
    }
}

#[test]
fn absurd_parameters_in_a_header_are_refused_before_any_work() {
    let (_dir, path) = fresh();
    let mut bytes = fs::read(&path).unwrap();
    bytes[11..15].copy_from_slice(&u32::MAX.to_le_bytes());
    fs::write(&path, bytes).unwrap();
    assert!(matches!(Keystore::open(&path, "file pass"), Err(KeystoreError::WeakParameters(_))));
}

#[test]
fn weak_parameters_floor_is_owasp() {
    // The floor is off in test builds, so check the numbers it is built from.
    assert_eq!(MIN_M_COST_KIB, 19 * 1024);
    assert_eq!(MIN_T_COST, 2);
    assert!(KdfParams::default().m_cost_kib >= MIN_M_COST_KIB && KdfParams::default().t_cost >= MIN_T_COST);
    let zero = KdfParams { m_cost_kib: 64, t_cost: 0, p_cost: 1 };
    let dir = tempfile::tempdir().unwrap();
    let err = Keystore::create(&dir.path().join("k"), MNEMONIC, "", "p", zero).unwrap_err();
    assert!(matches!(err, KeystoreError::WeakParameters(_)));
}

#[cfg(unix)]
#[test]
fn group_or_world_readable_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = fresh();
    for mode in [0o640, 0o604, 0o644] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let err = Keystore::open(&path, "file pass").unwrap_err();
        assert!(matches!(err, KeystoreError::InsecurePermissions(m) if m == mode), "{mode:o}: {err:?}");
    }
}

#[test]
fn create_refuses_to_overwrite() {
    let (_dir, path) = fresh();
    let before = fs::read(&path).unwrap();
    let err = Keystore::create(&path, MNEMONIC, "", "x", KdfParams::insecure_for_tests()).unwrap_err();
    assert!(matches!(err, KeystoreError::AlreadyExists(_)));
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn missing_file_empty_passphrase_and_bad_mnemonic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none");
    assert!(matches!(Keystore::open(&path, "p"), Err(KeystoreError::NotFound(_))));
    let params = KdfParams::insecure_for_tests();
    assert!(matches!(Keystore::create(&path, MNEMONIC, "", "", params), Err(KeystoreError::EmptyPassphrase)));
    assert!(matches!(
        Keystore::create(&path, "abandon abandon", "", "p", params),
        Err(KeystoreError::Key(KeyError::InvalidMnemonic))
    ));
    assert!(!path.exists());
}

#[test]
fn rotation_changes_passphrase_salt_and_nonce_but_not_keys() {
    let (_dir, path) = fresh();
    let before = fs::read(&path).unwrap();
    assert!(matches!(
        Keystore::rotate(&path, "wrong", "new pass"),
        Err(KeystoreError::WrongPassphraseOrTampered)
    ));
    assert_eq!(fs::read(&path).unwrap(), before, "a failed rotation leaves the file alone");
    Keystore::rotate(&path, "file pass", "new pass").unwrap();
    let after = fs::read(&path).unwrap();
    let header = FIXED_HEADER_BYTES + SALT_BYTES + NONCE_BYTES;
    assert_eq!(before[..FIXED_HEADER_BYTES], after[..FIXED_HEADER_BYTES], "same parameters");
    assert_ne!(before[FIXED_HEADER_BYTES..header], after[FIXED_HEADER_BYTES..header], "fresh salt and nonce");
    assert!(matches!(Keystore::open(&path, "file pass"), Err(KeystoreError::WrongPassphraseOrTampered)));
    let secrets = Keystore::open(&path, "new pass").unwrap();
    let expected = LocalSigner::from_mnemonic(MNEMONIC, "extra").unwrap();
    assert_eq!(keys(&secrets.signer().unwrap()), keys(&expected));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
