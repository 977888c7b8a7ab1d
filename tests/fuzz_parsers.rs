//! Property tests of every parser of outside input (the same entry points the cargo-fuzz
//! targets in `fuzz/` drive): for arbitrary bytes, and for the committed corpus
//! (`fuzz/corpus/<target>/`) cut, flipped, spliced and stuffed, each parser returns — an
//! error is fine, a panic is not. `PROPTEST_CASES` raises the count (`scripts/fuzz`).

use std::path::PathBuf;

use datachonk::fuzz_targets::TARGETS;
use proptest::prelude::*;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seed in {}", dir.display());
    seeds
}

/// One edit of a seed: the mistakes and attacks a real file or answer can carry.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    /// Repeat a slice many times (deep nesting, long names).
    Repeat(usize, usize, u16),
    Delete(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..16),
                Just(b"\x1b]52;c;AAAA\x07".to_vec()),
                Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
                Just(b"{\"a\":".repeat(64)),
                Just(b"&a [*a, *a, *a, *a]\n".to_vec()),
                Just("\u{feff}\u{202e}é\u{0}".as_bytes().to_vec()),
                Just(b"-1e999999".to_vec()),
                Just(b"9223372036854775808".to_vec()),
            ]
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..64, 2u16..512).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
        (any::<usize>(), 1usize..256).prop_map(|(i, n)| Edit::Delete(i, n)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match e {
            Edit::Truncate(i) => b.truncate(at(*i, b.len())),
            Edit::Flip(i, x) if !b.is_empty() => {
                let i = i % b.len();
                b[i] ^= x | 1;
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, bytes) => {
                let i = at(*i, b.len());
                b.splice(i..i, bytes.iter().copied());
            }
            Edit::Repeat(i, n, k) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                let piece = b[i..end].to_vec();
                let stuffed = piece.repeat(*k as usize);
                b.splice(i..end, stuffed);
            }
            Edit::Delete(i, n) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
        }
    }
    b
}

fn check_all(input: impl Fn(&str) -> Vec<u8>) {
    for (name, parse) in TARGETS {
        parse(&input(name));
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_all(|_| bytes.clone());
    }

    #[test]
    fn edited_corpus_files_never_panic(
        pick in any::<usize>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        check_all(|name| {
            let seeds = corpus(name);
            apply(&seeds[pick % seeds.len()], &edits)
        });
    }
}

#[test]
fn every_seed_of_the_corpus_is_accepted_by_its_parser_without_panic() {
    for (name, parse) in TARGETS {
        for seed in corpus(name) {
            parse(&seed);
        }
    }
}
