//! moru's native tokenizer-training helper (`moru_bpe`), used by `tokenizer/wordcount.py` and `tokenizer/bbpe.py`
//! when it is built (scripts/setup.sh builds it; without it those modules take their pure-Python path, which
//! gives the same tokenizer, slower).
//!
//! It does three things the Python path does, without touching every byte from Python:
//!
//! 1. `ChunkTable.add`: cut texts into chunks (before every space that follows a non-whitespace character or
//!    a MeCab mark, exactly `tokenizer.wordcount.chunks`) and count the distinct chunks, in parallel;
//!    chunks of a Korean or Japanese group that hold its script are kept apart (`pending(lang)`) for MeCab,
//!    which runs in Python; the marked versions come back through `resolve(lang, marked)`;
//! 2. `ChunkTable.word_counts` / `train`: pre-tokenize each distinct chunk once with the trainer's own
//!    pre-tokenizer (the `tokenizers` crate's, deserialized from the Python object's JSON: the same code the
//!    Python package runs) and sum the words with their chunk's count;
//! 3. `train_words`: the `tokenizers` crate's `BpeTrainer::do_train` on that word-count table, the function the
//!    Python package's `train_from_iterator` ends in after counting words itself, so the merges are the same
//!    (`tests/tokenizer/test_native.py` compares the tokenizers byte for byte).
//!
//! Everything configurable (split pattern, trainer options) comes from the Python objects' JSON, so there is
//! one definition of each, in Python.

use std::collections::HashMap;
use std::time::Instant;

use ahash::AHashMap;
use compact_str::CompactString;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;
use tokenizers::models::bpe::BPE;
use tokenizers::models::TrainerWrapper;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer, PreTokenizerWrapper};

const MARK: char = '\x1f';
const SEP: char = '\x1e'; // joins chunks for one MeCab call (`tokenizer.wordcount._SEP`)

/// Python's `str.isspace` (what `\s` matches in Python's `re`): Unicode White_Space plus the four ASCII
/// information separators U+001C..U+001F, which Python counts as whitespace and Rust does not.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `tokenizer.mecab.has_script`: ko = Hangul Jamo, Compatibility Jamo, syllables; ja = kana, CJK ideographs
/// (extension A, unified, compatibility), half-width katakana.
fn has_script(s: &str, lang: &str) -> Result<bool, String> {
    match lang {
        "ko" => Ok(s
            .chars()
            .any(|c| matches!(c, '\u{1100}'..='\u{11ff}' | '\u{3130}'..='\u{318f}' | '\u{ac00}'..='\u{d7a3}'))),
        "ja" => Ok(s.chars().any(|c| {
            matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}'
                | '\u{f900}'..='\u{faff}' | '\u{ff66}'..='\u{ff9f}')
        })),
        _ => Err(format!("no script check for language {lang:?} (ko, ja)")),
    }
}

/// The chunks of `text`: cut before every space whose previous character is not whitespace, or is a MARK
/// (`tokenizer.wordcount._CUT`); an empty text has none.
fn for_each_chunk<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == ' ' {
            if let Some(p) = prev {
                if p == MARK || !py_space(p) {
                    f(&text[start..i]);
                    start = i;
                }
            }
        }
        prev = Some(c);
    }
    if start < text.len() {
        f(&text[start..]);
    }
}

type Counts = AHashMap<CompactString, u64>;

/// GPT-2's byte-level alphabet (what the ByteLevel pre-tokenizer maps bytes to; `tokenizer.bytelevel`):
/// printable Latin-1 bytes stand for themselves, the other 68 are shifted to U+0100 onward in byte order.
fn byte_chars() -> [char; 256] {
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
    let mut out = ['\0'; 256];
    let mut shifted = 0;
    for b in 0..256u32 {
        out[b as usize] = if printable(b) {
            char::from_u32(b).unwrap()
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap()
        };
    }
    out
}

/// A letter whose class is the same in every Unicode version and regex engine: ASCII and Latin-1 letters,
/// Hangul syllables (`tokenizer.wordcount._L`).
fn safe_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c, '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}' | '\u{f8}'..='\u{ff}' | '\u{ac00}'..='\u{d7a3}')
}

/// Under the default split pattern a piece ` ?[safe letters]+` is one word (`tokenizer.wordcount._ONE_WORD`).
fn one_word(piece: &str) -> bool {
    let rest = piece.strip_prefix(' ').unwrap_or(piece);
    !rest.is_empty() && rest.chars().all(safe_letter)
}

fn merge(mut a: Counts, b: Counts) -> Counts {
    let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, std::mem::take(&mut a)) };
    for (k, v) in small {
        *big.entry(k).or_insert(0) += v;
    }
    big
}

fn count(texts: &[String], mark: Option<&str>) -> (Counts, Counts) {
    // count borrowed chunks (no allocation per chunk), merge, then own each distinct chunk once
    let counted: AHashMap<&str, u64> = texts
        .par_iter()
        .fold(AHashMap::new, |mut m: AHashMap<&str, u64>, t| {
            for_each_chunk(t, |c| *m.entry(c).or_insert(0) += 1);
            m
        })
        .reduce(AHashMap::new, |a, b| {
            let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
            for (k, v) in small {
                *big.entry(k).or_insert(0) += v;
            }
            big
        });
    let items: Vec<(&str, u64)> = counted.into_iter().collect();
    let split = |want_pending: bool| -> Counts {
        items
            .par_iter()
            .filter(|(k, _)| mark.is_some_and(|l| has_script(k, l).unwrap_or(false)) == want_pending)
            .map(|&(k, v)| (CompactString::from(k), v))
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    };
    (split(false), split(true))
}

fn word_table(chunks: &Counts, pre: &PreTokenizerWrapper, default_pattern: bool) -> Result<Counts, String> {
    let items: Vec<(&CompactString, &u64)> = chunks.iter().collect();
    let step = (items.len() / (16 * rayon::current_num_threads().max(1))).max(1);
    let bytes = byte_chars();
    items
        .par_chunks(step)
        .map(|part| {
            let mut words = Counts::new();
            let mut buf = String::new();
            for (chunk, n) in part {
                let n = **n;
                if default_pattern {
                    // the pre-tokenizer's first step splits at MARK (removed): each piece on its own
                    for piece in chunk.split(MARK).filter(|p| !p.is_empty()) {
                        if one_word(piece) {
                            buf.clear();
                            buf.extend(piece.bytes().map(|b| bytes[b as usize]));
                            *words.entry(CompactString::from(buf.as_str())).or_insert(0) += n;
                        } else {
                            pre_tokenize_into(piece, pre, n, &mut words)?;
                        }
                    }
                } else {
                    pre_tokenize_into(chunk, pre, n, &mut words)?;
                }
            }
            Ok(words)
        })
        .try_reduce(Counts::new, |a, b| Ok(merge(a, b)))
}

fn pre_tokenize_into(text: &str, pre: &PreTokenizerWrapper, n: u64, words: &mut Counts) -> Result<(), String> {
    let mut pts = PreTokenizedString::from(text);
    pre.pre_tokenize(&mut pts).map_err(|e| e.to_string())?;
    for (w, _, _) in pts.get_splits(OffsetReferential::Original, OffsetType::None) {
        *words.entry(CompactString::from(w)).or_insert(0) += n;
    }
    Ok(())
}

fn do_train(words: &Counts, trainer_json: &str) -> Result<String, String> {
    let trainer = match serde_json::from_str::<TrainerWrapper>(trainer_json).map_err(|e| e.to_string())? {
        TrainerWrapper::BpeTrainer(t) => t,
        _ => return Err("not a BpeTrainer".into()),
    };
    let mut model = BPE::default();
    trainer.do_train(words, &mut model).map_err(|e| e.to_string())?;
    serde_json::to_string(&model).map_err(|e| e.to_string())
}

fn parse_pre(json: &str) -> PyResult<PreTokenizerWrapper> {
    serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("pre-tokenizer JSON: {e}")))
}

/// Distinct chunks of many texts with their counts, kept in Rust between the steps.
#[pyclass]
#[derive(Default)]
struct ChunkTable {
    plain: Counts,
    /// per language to mark: chunks with that language's script, waiting for their marked form
    pending: HashMap<String, Counts>,
    pending_keys: HashMap<String, Vec<CompactString>>,
}

#[pymethods]
impl ChunkTable {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Count the chunks of `texts`. `keep_marks`: MeCab marks in the texts stay (already marked text);
    /// otherwise they are removed first. `mark` (`ko`, `ja`): chunks with that language's script wait in
    /// `pending(mark)` for their marked form instead of being counted as they are.
    #[pyo3(signature = (texts, mark=None, keep_marks=false))]
    fn add(&mut self, py: Python<'_>, mut texts: Vec<String>, mark: Option<String>, keep_marks: bool) -> PyResult<()> {
        if let Some(l) = &mark {
            has_script("", l).map_err(PyValueError::new_err)?;
        }
        let (plain, pending) = py.detach(|| {
            if !keep_marks {
                texts.par_iter_mut().for_each(|t| {
                    if t.contains(MARK) {
                        t.retain(|c| c != MARK);
                    }
                });
            }
            count(&texts, mark.as_deref())
        });
        self.plain = merge(std::mem::take(&mut self.plain), plain);
        if let Some(l) = mark {
            let old = self.pending.remove(&l).unwrap_or_default();
            self.pending.insert(l, merge(old, pending));
        }
        Ok(())
    }

    /// The distinct chunks waiting for `lang`'s marks, sorted (so MeCab sees the same batches every run), in
    /// the order `resolve` expects their marked forms.
    fn pending(&mut self, lang: &str) -> Vec<String> {
        let keys = self.sorted_pending(lang);
        let out = keys.iter().map(|k| k.to_string()).collect();
        self.pending_keys.insert(lang.to_string(), keys);
        out
    }

    /// `pending(lang)` as MeCab inputs: runs of chunks joined by U+001E, about `batch_chars` characters each
    /// (a chunk holding U+001E or NUL is a batch alone, to be marked whole). Pass the marked batches, same order,
    /// to `resolve_batches`. Few large strings cross to the MeCab processes instead of millions of small ones.
    #[pyo3(signature = (lang, batch_chars=65536))]
    fn pending_batches(&mut self, lang: &str, batch_chars: usize) -> Vec<String> {
        let keys = self.sorted_pending(lang);
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut size = 0;
        for k in &keys {
            if k.contains(SEP) || k.contains('\0') {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    size = 0;
                }
                out.push(k.to_string());
                continue;
            }
            if !cur.is_empty() {
                cur.push(SEP);
            }
            cur.push_str(k);
            size += k.chars().count() + 1;
            if size >= batch_chars {
                out.push(std::mem::take(&mut cur));
                size = 0;
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        self.pending_keys.insert(lang.to_string(), keys);
        out
    }

    /// The marked batches of `pending_batches(lang)`, same order.
    fn resolve_batches(&mut self, lang: &str, marked: Vec<String>) -> PyResult<()> {
        let keys = self.pending_keys.get(lang).cloned().unwrap_or_default();
        let mut out: Vec<String> = Vec::with_capacity(keys.len());
        let mut ki = 0;
        for batch in marked {
            if ki < keys.len() && (keys[ki].contains(SEP) || keys[ki].contains('\0')) {
                out.push(batch); // a lone chunk, marked whole
                ki += 1;
                continue;
            }
            for part in batch.split(SEP) {
                out.push(part.to_string());
                ki += 1;
            }
        }
        if out.len() != keys.len() {
            return Err(PyValueError::new_err(format!(
                "resolve_batches: the marked batches hold {} chunks for {} pending (MeCab changed a separator?)",
                out.len(),
                keys.len()
            )));
        }
        self.resolve(lang, out)
    }

    /// The marked forms of `pending(lang)`'s chunks, same order: counted with their chunk's count.
    fn resolve(&mut self, lang: &str, marked: Vec<String>) -> PyResult<()> {
        let keys = self.pending_keys.remove(lang).unwrap_or_default();
        if marked.len() != keys.len() {
            self.pending_keys.insert(lang.to_string(), keys.clone());
            return Err(PyValueError::new_err(format!(
                "resolve: {} marked chunks for {} pending (call pending({lang:?}) first)",
                marked.len(),
                keys.len()
            )));
        }
        let mut pending = self.pending.remove(lang).unwrap_or_default();
        for (k, m) in keys.into_iter().zip(marked) {
            if m.chars().filter(|&c| c != MARK).ne(k.chars()) {
                return Err(PyValueError::new_err(format!("resolve: {m:?} is not {k:?} with marks")));
            }
            let n = pending.remove(&k).unwrap_or(0);
            *self.plain.entry(CompactString::from(m)).or_insert(0) += n;
        }
        if !pending.is_empty() {
            self.pending.insert(lang.to_string(), pending); // added after pending() was called
        }
        Ok(())
    }

    /// Distinct chunks (pending ones included, unmarked) and the total number of chunk occurrences.
    fn stats(&self) -> (usize, u64) {
        let all = || std::iter::once(&self.plain).chain(self.pending.values());
        (all().map(|m| m.len()).sum(), all().map(|m| m.values().sum::<u64>()).sum())
    }

    /// The chunks and counts as a dict (pending chunks unmarked).
    fn chunk_counts(&self) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        for m in std::iter::once(&self.plain).chain(self.pending.values()) {
            for (k, v) in m {
                *out.entry(k.to_string()).or_insert(0) += v;
            }
        }
        out
    }

    /// The byte-level words of the chunks under `pre_tokenizer_json` (a `tokenizers` pre-tokenizer's
    /// `__getstate__()`), with their counts. `default_pattern`: the pre-tokenizer is moru's training one with
    /// the default split pattern, so a piece of safe letters is one word without running it.
    #[pyo3(signature = (pre_tokenizer_json, default_pattern=false))]
    fn word_counts(
        &self,
        py: Python<'_>,
        pre_tokenizer_json: &str,
        default_pattern: bool,
    ) -> PyResult<HashMap<String, u64>> {
        let pre = parse_pre(pre_tokenizer_json)?;
        let words = py.detach(|| self.words(&pre, default_pattern)).map_err(PyRuntimeError::new_err)?;
        Ok(words.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Word table + `BpeTrainer::do_train` (`trainer_json`: a `tokenizers.trainers.BpeTrainer`'s
    /// `__getstate__()`); returns the trained BPE model's JSON and a dict of figures: distinct_words,
    /// word_occurrences, word_table_s, train_s.
    #[pyo3(signature = (pre_tokenizer_json, trainer_json, default_pattern=false))]
    fn train(
        &self,
        py: Python<'_>,
        pre_tokenizer_json: &str,
        trainer_json: &str,
        default_pattern: bool,
    ) -> PyResult<(String, HashMap<String, f64>)> {
        let pre = parse_pre(pre_tokenizer_json)?;
        py.detach(|| -> Result<(String, HashMap<String, f64>), String> {
            let t0 = Instant::now();
            let words = self.words(&pre, default_pattern)?;
            let word_table_s = t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let model = do_train(&words, trainer_json)?;
            let figures = HashMap::from([
                ("distinct_words".to_string(), words.len() as f64),
                ("word_occurrences".to_string(), words.values().sum::<u64>() as f64),
                ("word_table_s".to_string(), word_table_s),
                ("train_s".to_string(), t0.elapsed().as_secs_f64()),
            ]);
            Ok((model, figures))
        })
        .map_err(PyRuntimeError::new_err)
    }
}

impl ChunkTable {
    fn sorted_pending(&self, lang: &str) -> Vec<CompactString> {
        let mut keys: Vec<CompactString> =
            self.pending.get(lang).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        keys.par_sort_unstable();
        keys
    }

    fn words(&self, pre: &PreTokenizerWrapper, default_pattern: bool) -> Result<Counts, String> {
        let waiting: usize = self.pending.values().map(|m| m.len()).sum();
        if waiting > 0 {
            return Err(format!("{waiting} chunks still wait for MeCab (pending()/resolve())"));
        }
        word_table(&self.plain, pre, default_pattern)
    }
}

/// `BpeTrainer::do_train` on a table of byte-level words and counts; returns the BPE model's JSON.
#[pyfunction]
fn train_words(py: Python<'_>, words: HashMap<String, u64>, trainer_json: &str) -> PyResult<String> {
    py.detach(|| {
        let table: Counts = words.into_iter().map(|(k, v)| (CompactString::from(k), v)).collect();
        do_train(&table, trainer_json)
    })
    .map_err(PyRuntimeError::new_err)
}

/// `tokenizer.mecab.has_script` (for tests).
#[pyfunction]
#[pyo3(name = "has_script")]
fn py_has_script(text: &str, lang: &str) -> PyResult<bool> {
    has_script(text, lang).map_err(PyValueError::new_err)
}

/// `tokenizer.wordcount.chunks` (for tests).
#[pyfunction]
fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_chunk(text, |c| out.push(c.to_string()));
    out
}

#[pymodule]
fn moru_bpe(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ChunkTable>()?;
    m.add_function(wrap_pyfunction!(train_words, m)?)?;
    m.add_function(wrap_pyfunction!(chunks, m)?)?;
    m.add_function(wrap_pyfunction!(py_has_script, m)?)?;
    m.add("TOKENIZERS_CRATE", "0.23.2")?;
    Ok(())
}
