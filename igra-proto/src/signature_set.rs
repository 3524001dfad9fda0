//! The signatures collected for one certified template: a grow-only set, the CRDT of phase 2 (protocol
//! brief section 3.3).
//!
//! Once a quorum certificate names template `H` for an event and epoch, every member signs each input of
//! `H` and broadcasts its signatures. Each member merges what reaches it into its [`SignatureSet`] for
//! `H`; when every input holds `m` signatures, any member finalizes the transaction and submits it.
//!
//! * The set holds at most one signature per slot `(input_index, member)`, so it never grows past
//!   inputs x members (at most [`MAX_TEMPLATE_INPUTS`] x [`MAX_MEMBERS`]).
//! * A signature is verified before it enters (BIP340 against the member's signing key and the input's
//!   sighash), so the set only ever holds valid signatures and [`SignatureSet::union`] of two sets needs
//!   no verification.
//! * Merge is set union: commutative, associative and idempotent, so members converge on the same set
//!   whatever order signatures arrive in and however often they are repeated.
//!
//! **First valid wins.** BIP340 signatures made with different auxiliary randomness differ and are all
//! valid, so two copies of one slot can disagree in their bytes. The set keeps the copy it admitted
//! first and never replaces it. That is safe: CHECKMULTISIG asks only that a signature verify, so any
//! valid copy serves, and Kaspa v0 transaction ids do not cover signature scripts, so members who
//! finalize with different copies submit the same transaction id, which the ledger accepts once. An
//! honest member signs a template once (its sign-once record is persisted with the signatures), so
//! copies differ only for a member that signed twice; the merge laws hold exactly on the slots (who
//! signed which input), and on the bytes too whenever each slot was signed once.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::group::{Group, MAX_MEMBERS, MemberIndex, MemberSet};
use crate::ids::{EventId, TemplateHash};
use crate::kaspa::script::MultisigScript;
use crate::kaspa::tx::Transaction;
use crate::keys::SchnorrSignature;
use crate::template::Template;
use crate::template::sign::{SignatureError, verify_partial_signature};
use crate::vote::QuorumCertificate;
use crate::wire::{
    BoundedVec, MAX_SIGNATURES_PER_MESSAGE, MAX_TEMPLATE_INPUTS, PartialSignature, SignatureSetMessage,
};

/// Most rejected signatures a [`MergeReport`] lists: enough to log and to evidence a bad sender, while
/// [`MergeReport::rejected_total`] counts them all.
pub const MAX_REPORTED_REJECTIONS: usize = 16;

// A whole set always fits in one signature message.
const _: () = assert!(MAX_TEMPLATE_INPUTS * MAX_MEMBERS <= MAX_SIGNATURES_PER_MESSAGE);

/// What [`SignatureSet::insert`] did with a valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// The slot was empty; the signature is now in the set.
    Added,
    /// The slot already held a valid signature, which stays (first valid wins).
    Duplicate,
}

/// What [`SignatureSet::merge_from`] did with a batch of untrusted signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Signatures that filled an empty slot.
    pub added: usize,
    /// Valid signatures for slots already filled.
    pub duplicates: usize,
    /// Every signature refused, to be counted against the sender.
    pub rejected_total: usize,
    /// The first [`MAX_REPORTED_REJECTIONS`] signatures refused, with the reason.
    pub rejected: Vec<(PartialSignature, SignatureError)>,
}

impl MergeReport {
    fn reject(&mut self, signature: PartialSignature, error: SignatureError) {
        self.rejected_total = self.rejected_total.saturating_add(1);
        if self.rejected.len() < MAX_REPORTED_REJECTIONS {
            self.rejected.push((signature, error));
        }
    }
}

/// The verified signatures of one template, at most one per `(input_index, member)`.
///
/// The owner keys it by `(event, epoch, template)`; the set itself knows the template's hash, input
/// count and the group's threshold `m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSet {
    template_hash: TemplateHash,
    inputs: u16,
    threshold: u8,
    /// Keyed by `(input_index, member)`, so iteration is the canonical order: input, then member.
    signatures: BTreeMap<(u16, MemberIndex), SchnorrSignature>,
}

impl SignatureSet {
    /// An empty set for the template `template_hash` with `inputs` inputs, signed by `group`. Refuses a
    /// template without inputs ([`SignatureError::NoSuchInput`]`(0)`) or with more than
    /// [`MAX_TEMPLATE_INPUTS`] ([`SignatureError::TooManyInputs`]).
    pub fn new(group: &Group, template_hash: TemplateHash, inputs: usize) -> Result<Self, SignatureError> {
        if inputs == 0 {
            return Err(SignatureError::NoSuchInput(0));
        }
        if inputs > MAX_TEMPLATE_INPUTS {
            return Err(SignatureError::TooManyInputs);
        }
        let inputs = u16::try_from(inputs).map_err(|_| SignatureError::TooManyInputs)?;
        Ok(Self { template_hash, inputs, threshold: group.threshold(), signatures: BTreeMap::new() })
    }

    /// Admits one signature if it verifies.
    ///
    /// `sighashes` is the template's [`Template::sighashes`], computed once per template by the caller.
    /// The result is an error exactly when the signature does not verify, so the caller can count it
    /// against the sender: a copy equal to the one already in its slot is known valid and is not
    /// verified again; a different copy is verified and, if valid, reported as
    /// [`Insert::Duplicate`] while the first copy stays.
    pub fn insert(
        &mut self,
        group: &Group,
        sighashes: &[[u8; 32]],
        signature: PartialSignature,
    ) -> Result<Insert, SignatureError> {
        debug_assert_eq!(sighashes.len(), usize::from(self.inputs), "sighashes of another template");
        if signature.input_index >= self.inputs {
            return Err(SignatureError::NoSuchInput(signature.input_index));
        }
        let slot = (signature.input_index, signature.signer);
        if self.signatures.get(&slot) == Some(&signature.signature) {
            return Ok(Insert::Duplicate);
        }
        verify_partial_signature(group, sighashes, &signature)?;
        if self.signatures.contains_key(&slot) {
            return Ok(Insert::Duplicate);
        }
        self.signatures.insert(slot, signature.signature);
        Ok(Insert::Added)
    }

    /// Admits a signature this node just made over `sighashes` itself, without verifying it: a signer
    /// that produced it from the same sighash cannot have produced an invalid one short of a broken
    /// signer, which verification would not mend. Refuses an input the template does not have.
    pub(crate) fn insert_own(&mut self, signature: PartialSignature) -> Result<Insert, SignatureError> {
        if signature.input_index >= self.inputs {
            return Err(SignatureError::NoSuchInput(signature.input_index));
        }
        let slot = (signature.input_index, signature.signer);
        if self.signatures.contains_key(&slot) {
            return Ok(Insert::Duplicate);
        }
        self.signatures.insert(slot, signature.signature);
        Ok(Insert::Added)
    }

    /// Merges untrusted signatures (a peer's message or a reply to a request): set union after
    /// verification. Verification work is bounded by the batch, which the wire bounds by
    /// [`MAX_SIGNATURES_PER_MESSAGE`].
    pub fn merge_from(
        &mut self,
        group: &Group,
        sighashes: &[[u8; 32]],
        other: impl IntoIterator<Item = PartialSignature>,
    ) -> MergeReport {
        let mut report = MergeReport::default();
        for signature in other {
            match self.insert(group, sighashes, signature) {
                Ok(Insert::Added) => report.added = report.added.saturating_add(1),
                Ok(Insert::Duplicate) => report.duplicates = report.duplicates.saturating_add(1),
                Err(error) => report.reject(signature, error),
            }
        }
        report
    }

    /// Set union with another set of the same template, whose signatures were verified when they entered
    /// it; nothing is verified again. Slots both sets hold keep this set's copy.
    pub fn union(&mut self, other: &Self) {
        debug_assert_eq!(self.template_hash, other.template_hash, "union of two templates' signatures");
        // Never mix two templates' signatures, even in a release build.
        if self.template_hash != other.template_hash || self.inputs != other.inputs {
            return;
        }
        for (slot, signature) in &other.signatures {
            self.signatures.entry(*slot).or_insert(*signature);
        }
    }

    /// The template these signatures are for.
    pub fn template_hash(&self) -> TemplateHash {
        self.template_hash
    }

    /// The template's number of inputs.
    pub fn inputs(&self) -> usize {
        usize::from(self.inputs)
    }

    /// The signatures per input needed to finalize: the group's `m`.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The number of signatures held.
    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    /// Whether no signature is held.
    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    /// The signatures held for input `input_index`.
    pub fn count_for_input(&self, input_index: u16) -> usize {
        self.signers_of(input_index).len()
    }

    /// Whether every input holds at least `m` signatures: the transaction can be finalized.
    pub fn is_complete(&self) -> bool {
        (0..self.inputs).all(|i| self.count_for_input(i) >= usize::from(self.threshold))
    }

    /// The members whose signatures for every input are held (what a digest advertises).
    pub fn complete_signers(&self) -> MemberSet {
        (0..self.inputs).fold(MemberSet(u16::MAX), |all, i| MemberSet(all.0 & self.signers_of(i).0))
    }

    /// The members of `wanted` whose signatures for some input are not held: what to ask a peer for
    /// when its digest says it holds `wanted` complete.
    pub fn missing(&self, wanted: MemberSet) -> MemberSet {
        MemberSet(wanted.0 & !self.complete_signers().0)
    }

    /// Every signature held, in canonical order: by input, then by member.
    pub fn signatures(&self) -> impl Iterator<Item = PartialSignature> + '_ {
        self.signatures.iter().map(|(&(input_index, signer), &signature)| PartialSignature {
            input_index,
            signer,
            signature,
        })
    }

    /// A message carrying the signatures of `members` held here, in canonical order: the whole set when
    /// `members` is everyone, a delta when it is what a peer lacks. A receiver feeds
    /// `message.signatures` to [`Self::merge_from`].
    pub fn to_message(
        &self,
        event_id: EventId,
        epoch: u32,
        certificate: Option<QuorumCertificate>,
        members: MemberSet,
    ) -> SignatureSetMessage {
        let chosen: Vec<_> = self
            .signatures()
            .filter(|s| members.contains(s.signer))
            .take(MAX_SIGNATURES_PER_MESSAGE)
            .collect();
        SignatureSetMessage {
            event_id,
            epoch,
            template_hash: self.template_hash,
            certificate,
            // `take` keeps it within the bound (and the set never exceeds it: see the assertion above).
            signatures: BoundedVec::try_from(chosen).unwrap_or_default(),
        }
    }

    /// The signed transaction, through [`Template::finalize`]. The choice of signatures is
    /// deterministic: for each input, the first `m` members in the redeem script's key order that
    /// signed it (the rule of [`MultisigScript::signature_script`]), so members holding equal sets
    /// build byte-identical transactions. Fails with [`SignatureError::Script`] while incomplete.
    pub fn finalize(
        &self,
        template: &Template,
        group: &Group,
        script: &MultisigScript,
    ) -> Result<Transaction, SignatureError> {
        debug_assert_eq!(template.hash(), self.template_hash, "finalizing another template");
        let signatures: Vec<_> = self.signatures().collect();
        template.finalize(group, script, &signatures)
    }

    /// The members who signed input `input_index`.
    fn signers_of(&self, input_index: u16) -> MemberSet {
        let mut signers = MemberSet::default();
        let slots = (input_index, MemberIndex(0))..=(input_index, MemberIndex(u8::MAX));
        for &(_, member) in self.signatures.range(slots).map(|(slot, _)| slot) {
            signers.insert(member);
        }
        signers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransactionId;
    use crate::group::{GroupConfig, Limits, Member, Network};
    use crate::kaspa::tx::{
        Outpoint, SEQUENCE_FINAL, SubnetworkId, TX_VERSION, TransactionInput, TransactionOutput, UtxoEntry,
    };
    use crate::keys::{LocalSigner, Signer};
    use alloc::vec;

    struct Setup {
        group: Group,
        signers: Vec<LocalSigner>,
        script: MultisigScript,
        template: Template,
        sighashes: Vec<[u8; 32]>,
    }

    /// An `m`-of-`n` group and a template spending `inputs` of its UTXOs.
    fn setup(n: u8, m: u8, inputs: u8) -> Setup {
        let signers: Vec<_> =
            (0..n).map(|i| LocalSigner::from_secrets([i + 1; 32], [i + 1; 32]).unwrap()).collect();
        let members = signers
            .iter()
            .map(|s| Member { identity: s.identity_public_key(), signing: s.signing_public_key() })
            .collect();
        let group = GroupConfig {
            members,
            threshold: m,
            network: Network::Simnet,
            policy_version: 1,
            limits: Limits::default(),
        }
        .validate()
        .unwrap();
        let script = MultisigScript::for_group(&group).unwrap();
        let template = spending(&script, inputs, 1_000);
        let sighashes = template.sighashes();
        Setup { group, signers, script, template, sighashes }
    }

    fn spending(script: &MultisigScript, inputs: u8, paid: u64) -> Template {
        let entry = UtxoEntry {
            amount: 10_000,
            script_public_key: script.script_public_key(),
            block_daa_score: 1,
            is_coinbase: false,
        };
        let input = |i: u8| TransactionInput {
            previous_outpoint: Outpoint { transaction_id: TransactionId([i + 1; 32]), index: 0 },
            signature_script: vec![],
            sequence: SEQUENCE_FINAL,
            sig_op_count: script.sig_op_count(),
        };
        Template {
            transaction: Transaction {
                version: TX_VERSION,
                inputs: (0..inputs).map(input).collect(),
                outputs: vec![TransactionOutput {
                    value: paid,
                    script_public_key: script.script_public_key(),
                }],
                lock_time: 0,
                subnetwork_id: SubnetworkId::NATIVE,
                gas: 0,
                payload: vec![],
                storage_mass: 0,
            },
            entries: vec![entry; usize::from(inputs)],
        }
    }

    impl Setup {
        fn empty(&self) -> SignatureSet {
            SignatureSet::new(&self.group, self.template.hash(), self.template.transaction.inputs.len())
                .unwrap()
        }

        /// Member `i`'s signatures of every input, with auxiliary randomness `aux`.
        fn signed_by(&self, i: u8, aux: u8) -> Vec<PartialSignature> {
            self.template.sign(&self.signers[usize::from(i)], MemberIndex(i), &[aux; 32]).unwrap()
        }

        fn set_signed_by(&self, members: &[u8]) -> SignatureSet {
            let mut set = self.empty();
            for &i in members {
                let report = set.merge_from(&self.group, &self.sighashes, self.signed_by(i, i));
                assert_eq!(report.rejected_total, 0);
            }
            set
        }
    }

    #[test]
    fn only_templates_with_one_to_max_inputs_have_a_set() {
        let s = setup(3, 2, 1);
        let hash = s.template.hash();
        assert_eq!(SignatureSet::new(&s.group, hash, 0), Err(SignatureError::NoSuchInput(0)));
        assert_eq!(
            SignatureSet::new(&s.group, hash, MAX_TEMPLATE_INPUTS + 1),
            Err(SignatureError::TooManyInputs)
        );
        let set = SignatureSet::new(&s.group, hash, MAX_TEMPLATE_INPUTS).unwrap();
        assert_eq!((set.inputs(), set.threshold(), set.template_hash()), (MAX_TEMPLATE_INPUTS, 2, hash));
    }

    #[test]
    fn a_signature_is_verified_before_it_enters() {
        let s = setup(3, 2, 2);
        let mut set = s.empty();
        let good = s.signed_by(0, 0)[0];
        let mut wrong_key = good;
        wrong_key.signer = MemberIndex(1);
        let mut wrong_input = good;
        wrong_input.input_index = 1;
        let other_template = spending(&s.script, 2, 2_000);
        let wrong_sighash = other_template.sign(&s.signers[0], MemberIndex(0), &[0; 32]).unwrap()[0];
        let mut stranger = good;
        stranger.signer = MemberIndex(9);
        let mut out_of_range = good;
        out_of_range.input_index = 2;
        let mut garbled = good;
        garbled.signature.0[5] ^= 1;
        let cases = [
            (wrong_key, SignatureError::BadSignature { input_index: 0, signer: MemberIndex(1) }),
            (wrong_input, SignatureError::BadSignature { input_index: 1, signer: MemberIndex(0) }),
            (wrong_sighash, SignatureError::BadSignature { input_index: 0, signer: MemberIndex(0) }),
            (garbled, SignatureError::BadSignature { input_index: 0, signer: MemberIndex(0) }),
            (stranger, SignatureError::UnknownSigner(MemberIndex(9))),
            (out_of_range, SignatureError::NoSuchInput(2)),
        ];
        for (bad, error) in cases {
            assert_eq!(set.insert(&s.group, &s.sighashes, bad), Err(error));
            assert!(set.is_empty(), "{error:?} entered the set");
        }
        assert_eq!(set.insert(&s.group, &s.sighashes, good), Ok(Insert::Added));
        assert_eq!(set.signatures().collect::<Vec<_>>(), vec![good]);
    }

    #[test]
    fn the_first_valid_copy_of_a_slot_wins() {
        let s = setup(3, 2, 2);
        let mut set = s.empty();
        let first = s.signed_by(1, 7)[1];
        let second = s.signed_by(1, 8)[1];
        assert_ne!(first.signature, second.signature, "aux randomness changes the bytes");
        assert_eq!(set.insert(&s.group, &s.sighashes, first), Ok(Insert::Added));
        assert_eq!(set.insert(&s.group, &s.sighashes, first), Ok(Insert::Duplicate));
        assert_eq!(set.insert(&s.group, &s.sighashes, second), Ok(Insert::Duplicate));
        // A different copy that does not verify is still an error: it is held against the sender.
        let mut forged = first;
        forged.signature.0[40] ^= 0x80;
        assert_eq!(
            set.insert(&s.group, &s.sighashes, forged),
            Err(SignatureError::BadSignature { input_index: 1, signer: MemberIndex(1) })
        );
        assert_eq!(set.signatures().collect::<Vec<_>>(), vec![first]);

        let mut other = s.empty();
        other.insert(&s.group, &s.sighashes, second).unwrap();
        other.union(&set);
        assert_eq!(other.signatures().collect::<Vec<_>>(), vec![second], "union keeps its own copy");
    }

    #[test]
    fn merge_reports_every_outcome_and_bounds_the_rejections_it_lists() {
        let s = setup(3, 2, 2);
        let mut set = s.set_signed_by(&[0]);
        let mut bad = s.signed_by(2, 2)[0];
        bad.signature.0[0] ^= 1;
        let batch = s
            .signed_by(0, 0)
            .into_iter()
            .chain(s.signed_by(1, 1))
            .chain(core::iter::repeat_n(bad, MAX_REPORTED_REJECTIONS + 3));
        let report = set.merge_from(&s.group, &s.sighashes, batch);
        assert_eq!((report.added, report.duplicates), (2, 2));
        assert_eq!(report.rejected_total, MAX_REPORTED_REJECTIONS + 3);
        assert_eq!(report.rejected.len(), MAX_REPORTED_REJECTIONS);
        assert_eq!(
            report.rejected[0],
            (bad, SignatureError::BadSignature { input_index: 0, signer: MemberIndex(2) })
        );
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn completeness_counts_signers_per_input() {
        let s = setup(3, 2, 2);
        let mut set = s.empty();
        assert_eq!(
            (set.count_for_input(0), set.is_complete(), set.complete_signers()),
            (0, false, MemberSet(0))
        );
        set.merge_from(&s.group, &s.sighashes, s.signed_by(2, 2));
        // Member 0 signed input 1 only: it is not a complete signer.
        set.insert(&s.group, &s.sighashes, s.signed_by(0, 0)[1]).unwrap();
        assert_eq!((set.count_for_input(0), set.count_for_input(1), set.count_for_input(2)), (1, 2, 0));
        assert!(!set.is_complete());
        assert_eq!(set.complete_signers(), MemberSet(0b100));
        assert_eq!(set.missing(MemberSet(0b111)), MemberSet(0b011));
        set.insert(&s.group, &s.sighashes, s.signed_by(1, 1)[0]).unwrap();
        assert!(set.is_complete(), "every input holds m = 2");
        assert_eq!(set.complete_signers(), MemberSet(0b100));
        set.merge_from(&s.group, &s.sighashes, s.signed_by(0, 0));
        assert_eq!(set.complete_signers(), MemberSet(0b101));
        assert_eq!(set.missing(MemberSet(0b111)), MemberSet(0b010));
        assert_eq!(set.len(), 5);
    }

    #[test]
    fn complete_sets_finalize_with_fixed_length_signature_scripts() {
        for (n, m, signers) in [(3u8, 2u8, vec![2u8, 0]), (5, 3, vec![4, 1, 3]), (5, 3, vec![0, 1, 2, 3, 4])]
        {
            let s = setup(n, m, 3);
            let partial = s.set_signed_by(&signers[..usize::from(m) - 1]);
            assert!(matches!(
                partial.finalize(&s.template, &s.group, &s.script),
                Err(SignatureError::Script { input_index: 0, .. })
            ));
            let set = s.set_signed_by(&signers);
            assert!(set.is_complete());
            let tx = set.finalize(&s.template, &s.group, &s.script).unwrap();
            assert_eq!(tx.inputs.len(), 3);
            for input in &tx.inputs {
                assert_eq!(input.signature_script.len(), s.script.signature_script_len());
            }
            // The choice is deterministic: the first m signers in key order, whatever else is held.
            let by_key = |i: &u8| s.script.position_of(&s.group.members()[usize::from(*i)].signing).unwrap();
            let mut chosen = signers.clone();
            chosen.sort_by_key(by_key);
            chosen.truncate(usize::from(m));
            let minimal = s.set_signed_by(&chosen).finalize(&s.template, &s.group, &s.script).unwrap();
            assert_eq!(tx, minimal);
        }
    }

    #[test]
    fn messages_carry_the_signatures_of_the_members_asked_for() {
        let s = setup(3, 2, 2);
        let set = s.set_signed_by(&[2, 0, 1]);
        let message = set.to_message(EventId([3; 32]), 4, None, MemberSet(0b101));
        assert_eq!(
            (message.event_id, message.epoch, message.template_hash),
            (EventId([3; 32]), 4, set.template_hash())
        );
        let slots: Vec<_> = message.signatures.iter().map(|p| (p.input_index, p.signer.0)).collect();
        assert_eq!(slots, vec![(0, 0), (0, 2), (1, 0), (1, 2)], "canonical order, members 0 and 2 only");
        assert!(set.to_message(EventId([3; 32]), 4, None, MemberSet(0)).signatures.is_empty());

        let mut receiver = s.set_signed_by(&[1]);
        let report = receiver.merge_from(&s.group, &s.sighashes, message.signatures.iter().copied());
        assert_eq!((report.added, report.rejected_total), (4, 0));
        assert_eq!(receiver, set);
    }
}
