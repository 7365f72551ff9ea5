//! The audit log's append-only Merkle tree, with RFC 9162's structure (§2.1): leaf and node
//! hashes, the compact frontier a sealer extends, inclusion and consistency proofs.
//!
//! Storage keeps only *perfect* subtrees (`NodeId`): `2^level` leaves starting at
//! `index * 2^level`. Every hash the RFC's recursions need is the hash of a range
//! `[start, end)` whose start is a multiple of the largest power of two below its size, so it
//! splits into perfect subtrees; proofs and roots ask for those through a lookup function.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// A perfect subtree: the `2^level` leaves from `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

impl NodeId {
    pub fn leaf(index: u64) -> NodeId {
        NodeId { level: 0, index }
    }
}

/// MTH({}) = SHA-256() (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// MTH({d}) = SHA-256(0x00 || d).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two strictly below `n` (n ≥ 2): where RFC 9162 splits a tree.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Why a proof cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    #[error("leaf {leaf} is not in a tree of {size} leaves")]
    LeafOutOfRange { leaf: u64, size: u64 },
    #[error("a consistency proof needs 0 < first ≤ second (got {first} and {second})")]
    BadRange { first: u64, second: u64 },
    #[error(transparent)]
    Lookup(E),
}

/// MTH(D[start:end]) from perfect subtrees fetched with `node`.
fn range_hash<E>(start: u64, end: u64, node: &mut impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, E> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return node(NodeId {
            level,
            index: start >> level,
        });
    }
    let k = split(n);
    let left = range_hash(start, start + k, node)?;
    let right = range_hash(start + k, end, node)?;
    Ok(node_hash(&left, &right))
}

/// The root of the first `size` leaves.
pub fn root<E>(size: u64, mut node: impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, E> {
    range_hash(0, size, &mut node)
}

/// PATH(leaf, D[size]) (RFC 9162 §2.1.3.1), nearest sibling first.
pub fn inclusion_proof<E>(
    leaf: u64,
    size: u64,
    mut node: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<Hash>, ProofError<E>> {
    if leaf >= size {
        return Err(ProofError::LeafOutOfRange { leaf, size });
    }
    let mut path = Vec::new();
    let (mut start, mut end) = (0, size);
    // Walk down from the root, then reverse: the RFC lists the path leaf-upwards.
    while end - start > 1 {
        let k = split(end - start);
        if leaf < start + k {
            path.push(range_hash(start + k, end, &mut node).map_err(ProofError::Lookup)?);
            end = start + k;
        } else {
            path.push(range_hash(start, start + k, &mut node).map_err(ProofError::Lookup)?);
            start += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// PROOF(first, D[second]) (RFC 9162 §2.1.4.1), in the RFC's order.
pub fn consistency_proof<E>(
    first: u64,
    second: u64,
    mut node: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Vec<Hash>, ProofError<E>> {
    if first == 0 || first > second {
        return Err(ProofError::BadRange { first, second });
    }
    let mut proof = Vec::new();
    subproof(first, (0, second), true, &mut node, &mut proof).map_err(ProofError::Lookup)?;
    Ok(proof)
}

/// SUBPROOF(m, D[start:end], b); `m` counts from `start`.
fn subproof<E>(
    m: u64,
    (start, end): (u64, u64),
    whole: bool,
    node: &mut impl FnMut(NodeId) -> Result<Hash, E>,
    proof: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = end - start;
    if m == n {
        if !whole {
            proof.push(range_hash(start, end, node)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(m, (start, start + k), whole, node, proof)?;
        proof.push(range_hash(start + k, end, node)?);
    } else {
        subproof(m - k, (start + k, end), false, node, proof)?;
        proof.push(range_hash(start, start + k, node)?);
    }
    Ok(())
}

/// The right edge of a tree: the perfect subtrees its size decomposes into, largest first.
/// A sealer loads it, appends leaves, and stores the nodes each append completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    pub fn empty() -> Frontier {
        Frontier {
            size: 0,
            peaks: Vec::new(),
        }
    }

    /// Which nodes make up the frontier of a tree of `size` leaves, largest first.
    pub fn peak_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::new();
        let mut start = 0;
        for level in (0..64).rev() {
            if size & (1 << level) != 0 {
                ids.push(NodeId {
                    level,
                    index: start >> level,
                });
                start += 1 << level;
            }
        }
        ids
    }

    /// The frontier of a tree of `size` leaves from the hashes of `peak_ids(size)`, in order.
    pub fn from_peaks(size: u64, peaks: Vec<Hash>) -> Option<Frontier> {
        (peaks.len() == size.count_ones() as usize).then_some(Frontier { size, peaks })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; returns every node it completes, the leaf itself first.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut completed = vec![(NodeId::leaf(index), leaf)];
        let mut hash = leaf;
        let mut level = 0;
        while index & (1 << level) != 0 {
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            level += 1;
            completed.push((
                NodeId {
                    level,
                    index: index >> level,
                },
                hash,
            ));
        }
        self.peaks.push(hash);
        self.size += 1;
        completed
    }

    /// MTH of the whole tree so far.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// RFC 9162 §2.1.3.2: does `path` prove that the leaf with hash `leaf` sits at `index` in
/// the tree of `size` leaves whose root is `root`?
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree of `second` leaves (root `second_root`)
/// extends the tree of `first` leaves (root `first_root`)?
pub fn verify_consistency(
    (first, first_root): (u64, &Hash),
    (second, second_root): (u64, &Hash),
    proof: &[Hash],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let Some((head, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (first - 1, second - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    fr == *first_root && sr == *second_root && s_n == 0
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;

    use super::*;

    /// MTH straight from RFC 9162 §2.1.1's recursive definition, as the reference.
    fn mth(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("leaf {i}").into_bytes()).collect()
    }

    /// Every node a sealer would have stored after appending `leaves`.
    fn stored(leaves: &[Vec<u8>]) -> (Frontier, HashMap<NodeId, Hash>) {
        let mut frontier = Frontier::empty();
        let mut nodes = HashMap::new();
        for leaf in leaves {
            nodes.extend(frontier.push(leaf_hash(leaf)));
        }
        (frontier, nodes)
    }

    fn lookup(nodes: &HashMap<NodeId, Hash>) -> impl FnMut(NodeId) -> Result<Hash, NodeId> + '_ {
        |id| nodes.get(&id).copied().ok_or(id)
    }

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_vectors() {
        // SHA-256 of the empty string, of 0x00, and of 0x01 || that || that.
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let empty_leaf = leaf_hash(b"");
        assert_eq!(
            hex(&node_hash(&empty_leaf, &empty_leaf)),
            hex(&mth(&[vec![], vec![]]))
        );
    }

    #[test]
    fn the_frontier_root_is_the_rfc_tree_hash_at_every_size() {
        let all = leaves(70);
        let mut frontier = Frontier::empty();
        assert_eq!(frontier.root(), mth(&[]));
        for n in 1..=all.len() {
            frontier.push(leaf_hash(&all[n - 1]));
            assert_eq!(frontier.root(), mth(&all[..n]), "size {n}");
        }
    }

    #[test]
    fn a_frontier_reloaded_from_stored_peaks_goes_on_identically() {
        let all = leaves(23);
        let (_, nodes) = stored(&all[..13]);
        let peaks = Frontier::peak_ids(13).into_iter().map(|id| nodes[&id]).collect();
        let mut reloaded = Frontier::from_peaks(13, peaks).unwrap_or_else(Frontier::empty);
        for leaf in &all[13..] {
            reloaded.push(leaf_hash(leaf));
        }
        assert_eq!(reloaded.root(), mth(&all));
        assert_eq!(Frontier::from_peaks(13, vec![]), None);
    }

    #[test]
    fn roots_from_stored_nodes_match_at_every_past_size() {
        let all = leaves(40);
        let (_, nodes) = stored(&all);
        for n in 0..=all.len() {
            assert_eq!(root(n as u64, lookup(&nodes)), Ok(mth(&all[..n])), "size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_verify_for_every_leaf_and_size_and_fail_when_altered() {
        let all = leaves(33);
        let (_, nodes) = stored(&all);
        for size in 1..=all.len() as u64 {
            let tree_root = mth(&all[..size as usize]);
            for index in 0..size {
                let path = inclusion_proof(index, size, lookup(&nodes)).unwrap_or_default();
                let leaf = leaf_hash(&all[index as usize]);
                assert!(
                    verify_inclusion(index, size, &leaf, &path, &tree_root),
                    "{index} in {size}"
                );
                assert!(!verify_inclusion(
                    index,
                    size,
                    &leaf_hash(b"x"),
                    &path,
                    &tree_root
                ));
                if size > 1 {
                    assert!(!verify_inclusion(index ^ 1, size, &leaf, &path, &tree_root));
                    let mut bent = path.clone();
                    bent[0][0] ^= 1;
                    assert!(!verify_inclusion(index, size, &leaf, &bent, &tree_root));
                }
            }
        }
        assert_eq!(
            inclusion_proof(3, 3, lookup(&nodes)),
            Err(ProofError::LeafOutOfRange { leaf: 3, size: 3 })
        );
    }

    #[test]
    fn consistency_proofs_verify_for_every_pair_and_fail_when_altered() {
        let all = leaves(33);
        let (_, nodes) = stored(&all);
        for second in 1..=all.len() as u64 {
            let second_root = mth(&all[..second as usize]);
            for first in 1..=second {
                let first_root = mth(&all[..first as usize]);
                let proof = consistency_proof(first, second, lookup(&nodes)).unwrap_or_default();
                assert!(
                    verify_consistency((first, &first_root), (second, &second_root), &proof),
                    "{first} → {second}"
                );
                let other = leaf_hash(b"other");
                assert!(!verify_consistency(
                    (first, &other),
                    (second, &second_root),
                    &proof
                ));
                if let Some(last) = proof.len().checked_sub(1) {
                    let mut bent = proof.clone();
                    bent[last][31] ^= 1;
                    assert!(!verify_consistency(
                        (first, &first_root),
                        (second, &second_root),
                        &bent
                    ));
                }
            }
        }
        assert!(matches!(
            consistency_proof::<Infallible>(0, 3, |_| Ok(empty_root())),
            Err(ProofError::BadRange { first: 0, second: 3 })
        ));
    }

    #[test]
    fn rfc_example_proof_shapes() {
        // RFC 9162 §2.1.5: the tree of 7 leaves d0…d6.
        let all = leaves(7);
        let (_, nodes) = stored(&all);
        let h = |range: std::ops::Range<usize>| mth(&all[range]);
        // The inclusion proof for d0 is [b, h, l] = [d1, c(d2,d3), MTH(d4..d6)].
        assert_eq!(
            inclusion_proof(0, 7, lookup(&nodes)),
            Ok(vec![h(1..2), h(2..4), h(4..7)])
        );
        // For d3 it is [c, g, l]; for d4 [f, j, k].
        assert_eq!(
            inclusion_proof(3, 7, lookup(&nodes)),
            Ok(vec![h(2..3), h(0..2), h(4..7)])
        );
        assert_eq!(
            inclusion_proof(4, 7, lookup(&nodes)),
            Ok(vec![h(5..6), h(6..7), h(0..4)])
        );
        // Consistency between hash0 (3 leaves) and hash (7 leaves) is [c, d, g, l].
        assert_eq!(
            consistency_proof(3, 7, lookup(&nodes)),
            Ok(vec![h(2..3), h(3..4), h(0..2), h(4..7)])
        );
        // Between hash1 (4 leaves) and hash: [l]; between hash2 (6) and hash: [i, j, k].
        assert_eq!(consistency_proof(4, 7, lookup(&nodes)), Ok(vec![h(4..7)]));
        assert_eq!(
            consistency_proof(6, 7, lookup(&nodes)),
            Ok(vec![h(4..6), h(6..7), h(0..4)])
        );
    }
}
