//! The origin chain's message tree: the depth-32 keccak-256 incremental tree of `MerkleTreeHook`, whose
//! leaves are message ids in dispatch order and whose empty positions hold the zero hashes
//! `Z_0 = 0`, `Z_{i+1} = keccak256(Z_i ‖ Z_i)`.

use alloc::vec::Vec;

use crate::event::evm::keccak256;

/// The depth of the tree: it holds up to `2^32 - 1` messages.
pub const TREE_DEPTH: usize = 32;

/// The siblings of a leaf from the leaf level up.
pub type MerkleProof = [[u8; 32]; TREE_DEPTH];

/// The root of the tree in which `leaf` sits at `index` with siblings `proof` (`MerkleLib.branchRoot`).
pub fn branch_root(leaf: &[u8; 32], proof: &MerkleProof, index: u32) -> [u8; 32] {
    let mut current = *leaf;
    for (level, sibling) in proof.iter().enumerate() {
        current = if (index >> level) & 1 == 1 { node(sibling, &current) } else { node(&current, sibling) };
    }
    current
}

/// The hash of an inner node.
fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    keccak256(&[left, right])
}

/// A message tree that keeps its leaves, to produce roots and proofs for the simulator, `igra devnet`
/// and tests. Each root or proof costs one pass over the leaves: fine for these, not for a chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleTree {
    leaves: Vec<[u8; 32]>,
}

impl MerkleTree {
    /// An empty tree.
    pub const fn new() -> Self {
        Self { leaves: Vec::new() }
    }

    /// Appends `leaf` and returns its index, or `None` if the tree is full.
    pub fn insert(&mut self, leaf: [u8; 32]) -> Option<u32> {
        let index = u32::try_from(self.leaves.len()).ok().filter(|&i| i < u32::MAX)?;
        self.leaves.push(leaf);
        Some(index)
    }

    /// The number of leaves.
    pub fn count(&self) -> usize {
        self.leaves.len()
    }

    /// The leaf at `index`.
    pub fn leaf(&self, index: u32) -> Option<[u8; 32]> {
        self.leaves.get(usize::try_from(index).ok()?).copied()
    }

    /// The current root.
    pub fn root(&self) -> [u8; 32] {
        self.walk(0).0
    }

    /// The proof of the leaf at `index` against the current [`root`](Self::root).
    pub fn proof(&self, index: u32) -> Option<MerkleProof> {
        let position = usize::try_from(index).ok().filter(|&i| i < self.leaves.len())?;
        Some(self.walk(position).1)
    }

    /// Folds the tree level by level, collecting the siblings of `position` on the way up.
    fn walk(&self, mut position: usize) -> ([u8; 32], MerkleProof) {
        let mut layer = self.leaves.clone();
        let mut zero = [0u8; 32];
        let mut proof = [[0u8; 32]; TREE_DEPTH];
        for sibling in &mut proof {
            *sibling = layer.get(position ^ 1).copied().unwrap_or(zero);
            layer = layer
                .chunks(2)
                .map(|pair| {
                    let left = pair.first().copied().unwrap_or(zero);
                    let right = pair.get(1).copied().unwrap_or(zero);
                    node(&left, &right)
                })
                .collect();
            zero = node(&zero, &zero);
            position >>= 1;
        }
        (layer.first().copied().unwrap_or(zero), proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// The zero hashes `Z_0..=Z_32`.
    fn zero_hashes() -> Vec<[u8; 32]> {
        let mut zeros = vec![[0u8; 32]];
        for i in 0..TREE_DEPTH {
            zeros.push(node(&zeros[i], &zeros[i]));
        }
        zeros
    }

    /// `hashMessage(s)`: the EIP-191 digest of a UTF-8 string, as merkle.json builds its leaves.
    fn string_leaf(s: &str) -> [u8; 32] {
        keccak256(&[b"\x19Ethereum Signed Message:\n", s.len().to_string().as_bytes(), s.as_bytes()])
    }

    #[test]
    fn zero_hashes_and_the_empty_root_are_upstreams() {
        // hyperlane-monorepo Merkle.sol zero hashes and accumulator INITIAL_ROOT, as transcribed in
        // shared/reference/event-sources.md section 2.4.
        let zeros = zero_hashes();
        assert_eq!(zeros[1], h32("ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5"));
        assert_eq!(zeros[31], h32("8448818bb4ae4562849e949e17ac16e0be16688e156b5cf15e098c627c0056a9"));
        let empty = h32("27ae5ba08d7291c96c8cbddcc148bf48a6d68c7974b94356f53754ef6171d757");
        assert_eq!(zeros[32], empty);
        assert_eq!(MerkleTree::new().root(), empty);
    }

    #[test]
    fn proof_json_vector_verifies() {
        // hyperlane-monorepo vectors/proof.json (blob f4f2ad12, Apache-2.0): two leaves, proof of index 1.
        let first = h32("d89959d277019eee21f1c3c270a125964d63b71876880724d287fbb8b8de55f1");
        let second = h32("5068ac60cb6f9c5202bbe8e7a1babdd972133ea3ad37d7e0e753c7e4ddd7ffbd");
        let root = h32("f6073aa307ae490864c58c6843a892171ac6cbfa2f8617696cc11bcc8fab1a72");
        let zeros = zero_hashes();
        let mut path = [[0u8; 32]; TREE_DEPTH];
        path[0] = first;
        path[1..].copy_from_slice(&zeros[1..TREE_DEPTH]);
        assert_eq!(branch_root(&second, &path, 1), root);

        let mut tree = MerkleTree::new();
        assert_eq!(tree.insert(first), Some(0));
        assert_eq!(tree.insert(second), Some(1));
        assert_eq!(tree.root(), root);
        assert_eq!(tree.proof(1), Some(path));
        assert_eq!(tree.proof(2), None);
        // A proof for the wrong index or leaf gives another root.
        assert_ne!(branch_root(&second, &path, 0), root);
        assert_ne!(branch_root(&first, &path, 1), root);
    }

    #[test]
    fn merkle_json_roots_are_reproduced_and_every_proof_verifies() {
        // hyperlane-monorepo vectors/merkle.json (blob afb59f1d, Apache-2.0, unmodified test names,
        // leaves and roots); each leaf is hashMessage(string).
        const FORTY_TWO: [&str; 42] = [
            "bacon",
            "eye",
            "we",
            "ghost",
            "listen",
            "corn",
            "blonde",
            "gutter",
            "sanctuary",
            "seat",
            "generate",
            "twist",
            "waterfall",
            "monster",
            "elbow",
            "flash",
            "arrow",
            "moment",
            "cheat",
            "unity",
            "steak",
            "shelter",
            "camera",
            "album",
            "bread",
            "tease",
            "sentence",
            "tribe",
            "miserable",
            "ridge",
            "guerrilla",
            "inhabitant",
            "suspicion",
            "mosque",
            "printer",
            "land",
            "reliable",
            "circle",
            "first-hand",
            "time",
            "content",
            "management",
        ];
        let cases: [(&str, &[&str], &str); 5] = [
            (
                "three leaves",
                &["one", "two", "three"],
                "18f2f1646fee335a1eaf5191a8ce58ea772080057d0fda687df59c45e47e6f68",
            ),
            ("one leaf", &["one"], "54fea87823728b754368018753f79a24e5f5cacee26c8785f3d33aabfd03372e"),
            ("no leaves", &[], "27ae5ba08d7291c96c8cbddcc148bf48a6d68c7974b94356f53754ef6171d757"),
            (
                "forty-two leaves",
                &FORTY_TWO,
                "274d610098d8f109587e97c908cf549d129a14f5bad7eb10d36a427da97be6fc",
            ),
            (
                "containing empty leaf",
                &["anna", "james", "", "luke", "erin"],
                "1841827275d59b7515da81fb121637567b70ebd8b38ec5aadb51f4300976cba1",
            ),
        ];
        assert_eq!(
            string_leaf("one"),
            h32("f0fe7c99ef23ace1835385e83dd61c9ecb6192d6514fcc13356ef912788eaa8a")
        );
        for (name, leaves, root) in cases {
            let mut tree = MerkleTree::new();
            for leaf in leaves {
                tree.insert(string_leaf(leaf)).unwrap();
            }
            assert_eq!(tree.count(), leaves.len());
            assert_eq!(tree.root(), h32(root), "{name}");
            for index in 0..u32::try_from(leaves.len()).unwrap() {
                let proof = tree.proof(index).unwrap();
                assert_eq!(
                    branch_root(&tree.leaf(index).unwrap(), &proof, index),
                    h32(root),
                    "{name} {index}"
                );
            }
        }
    }
}
