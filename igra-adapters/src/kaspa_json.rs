//! The JSON shapes of kaspad's wRPC JSON protocol for transactions and UTXO entries, so that the chain
//! client can submit what `igra-proto` finalizes and read the UTXOs it builds from.
//!
//! Conventions (rusty-kaspa `rpc/core/src/model/tx.rs`, checked on a live kaspad 2.1.0): camelCase
//! keys; integers are JSON numbers; ids, scripts, payloads and the subnetwork id are lowercase hex
//! strings; a script public key is one hex string, its version as two big-endian bytes then the script
//! (an object `{"version", "script"}` is accepted too); a transaction carries its storage mass both as
//! `storageMass` and the deprecated `mass`, and a reader needs at least one of them, equal if both.

use std::fmt;

use igra_proto::ids::TransactionId;
use igra_proto::kaspa::tx::{
    Outpoint, ScriptPublicKey, SubnetworkId, Transaction, TransactionInput, TransactionOutput, UtxoEntry,
};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JSON value that does not map onto the transaction model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonShapeError {
    /// A hex field is not hex, or has the wrong length.
    BadHex(&'static str),
    /// Neither `storageMass` nor `mass` is present.
    MissingMass,
    /// `storageMass` and `mass` differ.
    MassMismatch,
}

impl fmt::Display for JsonShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHex(field) => write!(f, "{field} is not valid hex of the right length"),
            Self::MissingMass => f.write_str("either storageMass or mass must be provided"),
            Self::MassMismatch => f.write_str("storageMass and mass must match when both are provided"),
        }
    }
}

impl std::error::Error for JsonShapeError {}

/// A transaction as `submitTransaction` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTransaction {
    /// Version.
    pub version: u16,
    /// Inputs.
    pub inputs: Vec<RpcTransactionInput>,
    /// Outputs.
    pub outputs: Vec<RpcTransactionOutput>,
    /// Lock time.
    pub lock_time: u64,
    /// Subnetwork id, 40 hex characters.
    pub subnetwork_id: String,
    /// Gas.
    pub gas: u64,
    /// Payload, hex.
    pub payload: String,
    /// Storage mass.
    pub storage_mass: u64,
    /// The deprecated name of the storage mass, always equal to it.
    pub mass: u64,
}

/// An input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTransactionInput {
    /// The output spent.
    pub previous_outpoint: RpcOutpoint,
    /// Signature script, hex.
    pub signature_script: String,
    /// Sequence.
    pub sequence: u64,
    /// Signature-operation count.
    pub sig_op_count: u8,
    /// Version-1 compute budget; 0 for version 0.
    #[serde(default)]
    pub compute_budget: u16,
}

/// An outpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcOutpoint {
    /// Transaction id, 64 hex characters.
    pub transaction_id: String,
    /// Output index.
    pub index: u32,
}

/// An output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcTransactionOutput {
    /// Value in sompi.
    pub value: u64,
    /// Script public key.
    pub script_public_key: RpcScriptPublicKey,
}

/// A UTXO entry as `getUtxosByAddresses` and `UtxosChanged` carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcUtxoEntry {
    /// Amount in sompi.
    pub amount: u64,
    /// Script public key.
    pub script_public_key: RpcScriptPublicKey,
    /// DAA score of the creating block.
    pub block_daa_score: u64,
    /// Whether it is a coinbase output.
    pub is_coinbase: bool,
}

/// `submitTransaction`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitTransactionRequest {
    /// The signed transaction.
    pub transaction: RpcTransaction,
    /// Igra never submits orphans (and the node honours the flag only with `--unsaferpc`).
    pub allow_orphan: bool,
}

/// A script public key: serialized as `"vvvv" ‖ script` in hex, `vvvv` the big-endian version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcScriptPublicKey(pub ScriptPublicKey);

impl Serialize for RpcScriptPublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = hex::encode(self.0.version.to_be_bytes());
        text.push_str(&hex::encode(&self.0.script));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for RpcScriptPublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Text(String),
            Object { version: u16, script: String },
        }
        match Shape::deserialize(d)? {
            Shape::Text(text) => {
                let bytes = hex::decode(&text).map_err(D::Error::custom)?;
                let (version, script) = match bytes.as_slice() {
                    [hi, lo, script @ ..] => (u16::from_be_bytes([*hi, *lo]), script.to_vec()),
                    _ => return Err(D::Error::custom("script public key shorter than its 2-byte version")),
                };
                Ok(Self(ScriptPublicKey { version, script }))
            }
            Shape::Object { version, script } => {
                Ok(Self(ScriptPublicKey { version, script: hex::decode(script).map_err(D::Error::custom)? }))
            }
        }
    }
}

impl<'de> Deserialize<'de> for RpcTransaction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            version: u16,
            inputs: Vec<RpcTransactionInput>,
            outputs: Vec<RpcTransactionOutput>,
            lock_time: u64,
            subnetwork_id: String,
            gas: u64,
            payload: String,
            storage_mass: Option<u64>,
            mass: Option<u64>,
        }
        let raw = Raw::deserialize(d)?;
        let mass = match (raw.storage_mass, raw.mass) {
            (Some(a), Some(b)) if a != b => return Err(D::Error::custom(JsonShapeError::MassMismatch)),
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => return Err(D::Error::custom(JsonShapeError::MissingMass)),
        };
        Ok(Self {
            version: raw.version,
            inputs: raw.inputs,
            outputs: raw.outputs,
            lock_time: raw.lock_time,
            subnetwork_id: raw.subnetwork_id,
            gas: raw.gas,
            payload: raw.payload,
            storage_mass: mass,
            mass,
        })
    }
}

fn hex_array<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], JsonShapeError> {
    let bytes = hex::decode(text).map_err(|_| JsonShapeError::BadHex(field))?;
    bytes.try_into().map_err(|_| JsonShapeError::BadHex(field))
}

impl From<&Transaction> for RpcTransaction {
    fn from(tx: &Transaction) -> Self {
        Self {
            version: tx.version,
            inputs: tx
                .inputs
                .iter()
                .map(|i| RpcTransactionInput {
                    previous_outpoint: RpcOutpoint::from(&i.previous_outpoint),
                    signature_script: hex::encode(&i.signature_script),
                    sequence: i.sequence,
                    sig_op_count: i.sig_op_count,
                    compute_budget: 0,
                })
                .collect(),
            outputs: tx
                .outputs
                .iter()
                .map(|o| RpcTransactionOutput {
                    value: o.value,
                    script_public_key: RpcScriptPublicKey(o.script_public_key.clone()),
                })
                .collect(),
            lock_time: tx.lock_time,
            subnetwork_id: hex::encode(tx.subnetwork_id.0),
            gas: tx.gas,
            payload: hex::encode(&tx.payload),
            storage_mass: tx.storage_mass,
            mass: tx.storage_mass,
        }
    }
}

impl From<&Outpoint> for RpcOutpoint {
    fn from(o: &Outpoint) -> Self {
        Self { transaction_id: hex::encode(o.transaction_id.0), index: o.index }
    }
}

impl TryFrom<&RpcOutpoint> for Outpoint {
    type Error = JsonShapeError;

    fn try_from(o: &RpcOutpoint) -> Result<Self, JsonShapeError> {
        Ok(Self {
            transaction_id: TransactionId(hex_array(&o.transaction_id, "transactionId")?),
            index: o.index,
        })
    }
}

impl TryFrom<&RpcTransaction> for Transaction {
    type Error = JsonShapeError;

    fn try_from(tx: &RpcTransaction) -> Result<Self, JsonShapeError> {
        let inputs = tx
            .inputs
            .iter()
            .map(|i| {
                Ok(TransactionInput {
                    previous_outpoint: Outpoint::try_from(&i.previous_outpoint)?,
                    signature_script: hex::decode(&i.signature_script)
                        .map_err(|_| JsonShapeError::BadHex("signatureScript"))?,
                    sequence: i.sequence,
                    sig_op_count: i.sig_op_count,
                })
            })
            .collect::<Result<_, JsonShapeError>>()?;
        Ok(Self {
            version: tx.version,
            inputs,
            outputs: tx
                .outputs
                .iter()
                .map(|o| TransactionOutput {
                    value: o.value,
                    script_public_key: o.script_public_key.0.clone(),
                })
                .collect(),
            lock_time: tx.lock_time,
            subnetwork_id: SubnetworkId(hex_array(&tx.subnetwork_id, "subnetworkId")?),
            gas: tx.gas,
            payload: hex::decode(&tx.payload).map_err(|_| JsonShapeError::BadHex("payload"))?,
            storage_mass: tx.storage_mass,
        })
    }
}

impl From<&UtxoEntry> for RpcUtxoEntry {
    fn from(e: &UtxoEntry) -> Self {
        Self {
            amount: e.amount,
            script_public_key: RpcScriptPublicKey(e.script_public_key.clone()),
            block_daa_score: e.block_daa_score,
            is_coinbase: e.is_coinbase,
        }
    }
}

impl From<&RpcUtxoEntry> for UtxoEntry {
    fn from(e: &RpcUtxoEntry) -> Self {
        Self {
            amount: e.amount,
            script_public_key: e.script_public_key.0.clone(),
            block_daa_score: e.block_daa_score,
            is_coinbase: e.is_coinbase,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use igra_proto::kaspa::hashing::transaction_id;
    use serde_json::json;

    /// rusty-kaspa's sighash test transaction (consensus/core/src/hashing/sighash.rs `native_tx`).
    fn native_tx() -> Transaction {
        let prev = TransactionId(
            hex_array("880eb9819a31821d9d2399e2f35e2433b72637e393d71ecc9b8d0250f49153c3", "t").unwrap(),
        );
        let spk = |h: &str| ScriptPublicKey { version: 0, script: hex::decode(h).unwrap() };
        Transaction {
            version: 0,
            inputs: (0..3)
                .map(|i| TransactionInput {
                    previous_outpoint: Outpoint { transaction_id: prev, index: i },
                    signature_script: vec![],
                    sequence: u64::from(i),
                    sig_op_count: 0,
                })
                .collect(),
            outputs: vec![
                TransactionOutput {
                    value: 300,
                    script_public_key: spk(
                        "20fcef4c106cf11135bbd70f02a726a92162d2fb8b22f0469126f800862ad884e8ac",
                    ),
                },
                TransactionOutput {
                    value: 300,
                    script_public_key: spk(
                        "208325613d2eeaf7176ac6c670b13c0043156c427438ed72d74b7800862ad884e8ac",
                    ),
                },
            ],
            lock_time: 1_615_462_089_000,
            subnetwork_id: SubnetworkId::NATIVE,
            gas: 0,
            payload: vec![],
            storage_mass: 0,
        }
    }

    #[test]
    fn transactions_serialize_in_the_node_shape_and_round_trip() {
        let tx = native_tx();
        let json = serde_json::to_value(SubmitTransactionRequest {
            transaction: RpcTransaction::from(&tx),
            allow_orphan: false,
        })
        .unwrap();
        let t = &json["transaction"];
        assert_eq!(t["lockTime"], json!(1_615_462_089_000u64));
        assert_eq!(t["subnetworkId"], json!("0000000000000000000000000000000000000000"));
        assert_eq!(t["payload"], json!(""));
        assert_eq!(t["storageMass"], json!(0));
        assert_eq!(t["mass"], json!(0));
        assert_eq!(
            t["inputs"][1]["previousOutpoint"],
            json!({"transactionId": "880eb9819a31821d9d2399e2f35e2433b72637e393d71ecc9b8d0250f49153c3", "index": 1})
        );
        assert_eq!(t["inputs"][2]["sequence"], json!(2));
        assert_eq!(t["inputs"][0]["sigOpCount"], json!(0));
        assert_eq!(
            t["outputs"][0]["scriptPublicKey"],
            json!("000020fcef4c106cf11135bbd70f02a726a92162d2fb8b22f0469126f800862ad884e8ac")
        );
        assert_eq!(json["allowOrphan"], json!(false));
        let back: RpcTransaction = serde_json::from_value(t.clone()).unwrap();
        let tx_back = Transaction::try_from(&back).unwrap();
        assert_eq!(tx_back, tx);
        // The id a node would answer with (derived from rusty-kaspa's hashing rules).
        assert_eq!(
            hex::encode(transaction_id(&tx_back).0),
            "d37a4a8dfeab473a238fe2c4a1f602d63cdbb52804a04eb0c81df10ac8aa812c"
        );
    }

    #[test]
    fn mass_fields_follow_the_node_rules() {
        let base = json!({"version": 1, "inputs": [], "outputs": [], "lockTime": 0,
            "subnetworkId": "0000000000000000000000000000000000000000", "gas": 0, "payload": ""});
        let with = |extra: serde_json::Value| {
            let mut v = base.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            serde_json::from_value::<RpcTransaction>(v)
        };
        assert_eq!(with(json!({"storageMass": 123})).unwrap().storage_mass, 123);
        assert_eq!(with(json!({"mass": 123})).unwrap().storage_mass, 123);
        assert_eq!(with(json!({"storageMass": 123, "mass": 123})).unwrap().mass, 123);
        assert!(
            with(json!({"storageMass": 123, "mass": 456})).unwrap_err().to_string().contains("must match")
        );
        assert!(with(json!({})).unwrap_err().to_string().contains("must be provided"));
    }

    #[test]
    fn script_public_keys_are_version_then_script_in_hex() {
        // rusty-kaspa `test_spk_serde_json`: version 0xc0de, script bytes 0..=34.
        let spk = RpcScriptPublicKey(ScriptPublicKey { version: 0xc0de, script: (0u8..=34).collect() });
        let text = serde_json::to_value(&spk).unwrap();
        assert_eq!(text, json!("c0de000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122"));
        assert_eq!(serde_json::from_value::<RpcScriptPublicKey>(text).unwrap(), spk);
        let empty: RpcScriptPublicKey = serde_json::from_value(json!("0000")).unwrap();
        assert_eq!(empty.0, ScriptPublicKey { version: 0, script: vec![] });
        assert!(serde_json::from_value::<RpcScriptPublicKey>(json!("00")).is_err());
        let object: RpcScriptPublicKey =
            serde_json::from_value(json!({"version": 0, "script": "ab"})).unwrap();
        assert_eq!(object.0.script, vec![0xab]);
    }

    #[test]
    fn utxo_entries_convert_both_ways_and_bad_hex_is_typed() {
        let json = json!({"amount": 5_000_000_000u64, "scriptPublicKey": "0000aa20" , "blockDaaScore": 77,
            "isCoinbase": true});
        let entry: RpcUtxoEntry = serde_json::from_value(json).unwrap();
        let model = UtxoEntry::from(&entry);
        assert_eq!(model.amount, 5_000_000_000);
        assert_eq!(model.script_public_key.script, vec![0xaa, 0x20]);
        assert!(model.is_coinbase);
        assert_eq!(RpcUtxoEntry::from(&model), entry);
        let bad = RpcOutpoint { transaction_id: "zz".into(), index: 0 };
        assert_eq!(Outpoint::try_from(&bad), Err(JsonShapeError::BadHex("transactionId")));
    }
}
