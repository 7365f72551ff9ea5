//! An independent verifier for the audit log, written from RFC 9162 and the README's
//! byte formats alone: it shares no code with the server's tree (`domain::merkle`), so a
//! mistake there cannot hide behind the same mistake here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// HASH(0x00 || d).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    sha256(&[&[0u8], leaf])
}

/// HASH(0x01 || left || right).
fn interior(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[1u8], left, right])
}

/// §2.1.1: MTH(D[n]), recursively, k the largest power of two smaller than n.
pub fn tree_hash(leaves: &[Vec<u8>]) -> Hash {
    let n = leaves.len();
    if n == 0 {
        return sha256(&[]);
    }
    if n == 1 {
        return leaf_hash(&leaves[0]);
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    interior(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
}

/// §2.1.3.2: verifying an inclusion proof.
pub fn inclusion_holds(leaf_index: u64, tree_size: u64, hash: Hash, path: &[Hash], root: &Hash) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let mut fnum = leaf_index;
    let mut snum = tree_size - 1;
    let mut r = hash;
    for p in path {
        if snum == 0 {
            return false;
        }
        if fnum % 2 == 1 || fnum == snum {
            r = interior(p, &r);
            if fnum.is_multiple_of(2) {
                while fnum.is_multiple_of(2) && fnum != 0 {
                    fnum /= 2;
                    snum /= 2;
                }
            }
        } else {
            r = interior(&r, p);
        }
        fnum /= 2;
        snum /= 2;
    }
    snum == 0 && &r == root
}

/// §2.1.4.2: verifying consistency between two tree heads (first < second).
pub fn consistency_holds(
    first: u64,
    second: u64,
    first_hash: &Hash,
    second_hash: &Hash,
    proof: &[Hash],
) -> bool {
    if first == second {
        return proof.is_empty() && first_hash == second_hash;
    }
    if proof.is_empty() || first == 0 || first > second {
        return false;
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if first & (first - 1) == 0 {
        path.push(*first_hash);
    }
    path.extend_from_slice(proof);
    let mut fnum = first - 1;
    let mut snum = second - 1;
    while fnum % 2 == 1 {
        fnum /= 2;
        snum /= 2;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if snum == 0 {
            return false;
        }
        if fnum % 2 == 1 || fnum == snum {
            fr = interior(c, &fr);
            sr = interior(c, &sr);
            if fnum.is_multiple_of(2) {
                while fnum.is_multiple_of(2) && fnum != 0 {
                    fnum /= 2;
                    snum /= 2;
                }
            }
        } else {
            sr = interior(&sr, c);
        }
        fnum /= 2;
        snum /= 2;
    }
    &fr == first_hash && &sr == second_hash && snum == 0
}

pub fn hash(value: &Value) -> Hash {
    value
        .as_str()
        .and_then(|text| hex::decode(text).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or_else(|| panic!("not a hex SHA-256: {value}"))
}

pub fn hashes(value: &Value) -> Vec<Hash> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(hash)
        .collect()
}

/// A checkpoint's Ed25519 signature over the documented text, by the JWKS key it names.
pub fn checkpoint_signed(checkpoint: &Value, jwks: &Value) -> bool {
    let kid = checkpoint["kid"].as_str().unwrap_or_default();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
    else {
        return false;
    };
    let public = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().unwrap_or_default())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok());
    let signature = hex::decode(checkpoint["signature"].as_str().unwrap_or_default())
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok());
    let (Some(public), Some(signature)) = (public, signature) else {
        return false;
    };
    let text = format!(
        "kabinet.audit.checkpoint.v1\n{}\n{}\n{}\n",
        checkpoint["tree_size"],
        checkpoint["root_hash"].as_str().unwrap_or_default(),
        checkpoint["signed_at"].as_str().unwrap_or_default()
    );
    public.verify(text.as_bytes(), &signature).is_ok()
}

/// The leaf's fields as the README documents them: each absent (0x00) or present (0x01,
/// big-endian u64 length, UTF-8).
pub fn leaf_fields(leaf: &[u8]) -> Vec<Option<String>> {
    let mut fields = Vec::new();
    let mut rest = leaf;
    while let Some((&tag, tail)) = rest.split_first() {
        if tag == 0 {
            fields.push(None);
            rest = tail;
            continue;
        }
        assert_eq!(tag, 1, "bad field tag");
        let (len, tail) = tail.split_at(8);
        let len = u64::from_be_bytes(len.try_into().unwrap_or_default()) as usize;
        let (text, tail) = tail.split_at(len);
        fields.push(Some(String::from_utf8(text.to_vec()).unwrap_or_default()));
        rest = tail;
    }
    fields
}

#[test]
fn the_verifier_itself_agrees_with_the_rfc_examples() {
    // RFC 9162 §2.1.5's seven-leaf tree: the inclusion proof of d0 is [b, h, l].
    let leaves: Vec<Vec<u8>> = (0..7u8).map(|i| vec![i]).collect();
    let root = tree_hash(&leaves);
    let b = leaf_hash(&leaves[1]);
    let h = tree_hash(&leaves[2..4]);
    let l = tree_hash(&leaves[4..7]);
    assert!(inclusion_holds(0, 7, leaf_hash(&leaves[0]), &[b, h, l], &root));
    assert!(!inclusion_holds(0, 7, leaf_hash(&leaves[0]), &[b, l, h], &root));
    // Consistency of the 4-leaf tree with the 7-leaf one is [l].
    assert!(consistency_holds(4, 7, &tree_hash(&leaves[..4]), &root, &[l]));
    assert!(!consistency_holds(4, 7, &tree_hash(&leaves[..4]), &root, &[h]));
    assert_eq!(
        hex::encode(tree_hash(&[])),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}
