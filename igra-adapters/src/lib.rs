//! Runtimes around [`igra_proto`]: the pieces that do I/O so that the core never has to.
//!
//! This crate will hold (issue 7 of the tracker): TCP transport for tokio and smol sharing one framing
//! and backoff implementation, LMDB storage through heed with group commit, the Kaspa wRPC client, the
//! HTTP API, configuration and the encrypted keystore, and the `igra` binary. It keeps no protocol logic:
//! every decision is made by `igra_proto` and this crate only carries bytes, time and durability to and
//! from it.
//!
//! So far it holds [`kaspa_json`] (the node's JSON shapes of transactions and UTXO entries),
//! [`keystore`] (a member's mnemonic, encrypted at rest), [`config`] (the node file, validated into
//! igra-proto's `NodeConfig`) and the `igra` binary with its `keygen` command.

pub mod api;
pub mod config;
pub mod devnet;
pub mod kaspa_json;
pub mod kaspad;
pub mod keystore;
pub mod member;
pub mod metrics;
pub mod operator;
pub mod runner;
pub mod storage;
pub mod transport;
