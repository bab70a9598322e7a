"""PII detection precision and recall per type on a labelled set built here: made-up PII (demo.pii's makers plus
harder formats written below: mixed separators, upper-case emails, addresses with ports, contiguous card numbers,
``+82 (0)10`` ...) and decoys (wrong-checksum RRNs, impossible dates, non-Luhn card-like numbers, dates, year ranges,
prices, version strings, order numbers, times, ISBNs, out-of-range IPs, account layouts with no bank word) inserted
between the sentences of real text nobody here wrote: Korean news (../shared/data/text/korean_news) and English web
pages (../shared/data/text/english_dclm_labeled). moru's detector (quality.pii) and the peer, EleutherAI dps's
Korean PII rules (restated below from dps/spark/utils/{korean,lang_agnostic}_utils.py: its phone, RRN, card,
account, email and IPv4 patterns, applied in dps's order), run on the same texts.

A detection counts as a true positive when it has a planted value's type and exact span; any other detection that
touches a planted value or a decoy is a false positive (of the type it claims). Detections elsewhere are in the
carrier text itself: they are counted apart (with examples printed) and left out of precision, since the carriers
may hold real PII (news tip lines, reporters' emails) as well as false alarms.

    python benchmarks/pii.py [--data ../shared/data] [--docs 1000] [--seed 0]

The last line is the headline: moru's micro-averaged F1 over all types against dps's on the same set.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.pii import _num, card_digits, decoy_sentence, pii_sentence, rrn_digits  # noqa: E402
from quality.pii import PII_TYPES, Detector  # noqa: E402


# ------------------------------------------------------------------------------------------- harder formats
def hard_value(rng: random.Random, pii_type: str, lang: str) -> tuple[str, str]:
    """(sentence, value) in formats the demo does not plant."""
    if pii_type == "email":
        v = rng.choice(("Kim.MinJi", "J.Park", "SUPPORT", "dev-team")) + f"@{rng.choice(('Naver.COM', 'mail.co.kr'))}"
        t = rng.choice(("이메일({v})로 회신 바랍니다.", "E-mail: {v}", "<{v}>에게 물어보세요."))
    elif pii_type == "phone":
        v = rng.choice((
            f"010 {_num(rng, 4)}-{_num(rng, 4)}", f"(02){_num(rng, 3)}-{_num(rng, 4)}",
            f"+82 (0)10 {_num(rng, 4)} {_num(rng, 4)}", f"+82-10-{_num(rng, 4)}-{_num(rng, 4)}",
            f"031)123-{_num(rng, 4)}", f"+81 3-{_num(rng, 4)}-{_num(rng, 4)}", f"0505-{_num(rng, 3)}-{_num(rng, 4)}",
        ))  # fmt: skip
        t = rng.choice(("전화: {v}", "Tel. {v}", "문의 {v}"))
    elif pii_type == "rrn":
        d = rrn_digits(rng)
        v = rng.choice((d, f"{d[:6]} - {d[6:]}", f"{d[:6]}–{d[6:]}"))
        t = rng.choice(("주민번호:{v}", "RRN {v}.", "({v})"))
    elif pii_type == "card":
        d = card_digits(rng)
        v = rng.choice((d, "-".join(d[i : i + 4] for i in range(0, 16, 4))))
        t = rng.choice(("카드번호:{v}", "Card no. {v}", "결제카드({v})"))
    elif pii_type == "bank_account":
        v = rng.choice(
            (
                f"{_num(rng, 3)}-{_num(rng, 6)}-{_num(rng, 2)}-{_num(rng, 3)}",
                f"{_num(rng, 4)}-{_num(rng, 2)}-{_num(rng, 7)}",
            )
        )  # noqa: E501
        t = rng.choice(("입금계좌:{v}", "계좌번호 {v} (예금주: 박민수)", "Bank transfer to {v}."))
    else:
        v4 = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}:8080"
        v = rng.choice((v4, "2001:0db8:85a3:0000:0000:8a2e:0370:7334", f"::ffff:192.0.2.{rng.randrange(1, 255)}"))
        t = rng.choice(("접속 IP {v}", "host={v}", "from {v}"))
        if v.endswith(":8080"):  # the address is the PII, not the port
            return t.format(v=v), v[: -len(":8080")]
    return t.format(v=v), v


# ------------------------------------------------------------------------------------------- the peer
class DpsStyle:
    """EleutherAI dps's Korean PII rules as it applies them (card, RRN, phone, account, then email and IPv4; an
    earlier rule's matches are replaced before the next runs, so earlier wins), restated from its patterns."""

    RULES = (
        ("card", re.compile(r"[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}")),
        ("rrn", re.compile(r"[0-9]{6}-[0-9]{7}")),
        ("phone", re.compile(r"[0-9]{2,3}-[0-9]{3,4}-[0-9]{4}|[0-9]{2,3}[0-9]{3,4}[0-9]{4}")),
        ("bank_account", re.compile(r"[0-9]{12,14}|[0-9,\-]{3,6}-[0-9,\-]{2,6}-[0-9,\-]{2,6}")),
        ("email", re.compile(r"[a-z0-9.\-+_]+@[a-z0-9.\-+_]+\.[a-z]+")),
        (
            "ip_address",
            re.compile(
                r"\b(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\b"
            ),
        ),  # noqa: E501
    )

    def find(self, text: str) -> list[tuple[str, int, int]]:
        taken: list[tuple[str, int, int]] = []
        for t, rx in self.RULES:
            for m in rx.finditer(text):
                if all(m.end() <= s or m.start() >= e for _, s, e in taken):
                    taken.append((t, m.start(), m.end()))
        return taken


# ------------------------------------------------------------------------------------------- the set
def carriers(data: Path, lang: str, n: int, rng: random.Random) -> list[str]:
    if lang == "ko":
        texts = []
        for path in sorted((data / "text" / "korean_news").glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                texts += [json.loads(line)["text"] for line in fh if line.strip()]
    else:
        with gzip.open(data / "text" / "english_dclm_labeled" / "majority_data.jsonl.gz", "rt", encoding="utf-8") as fh:
            texts = [json.loads(line)["text"] for line in fh if line.strip()]
        texts = [t for t in texts if len(t) >= 300]
    rng.shuffle(texts)
    return texts[:n]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?다])\s+|\n+", text) if s.strip()]


def build(data: Path, n_docs: int, seed: int) -> list[dict]:
    """Documents {lang, text, pii: [(type, start, end)], decoys: [(kind, start, end)]}: each carrier with 1-3 PII
    sentences (a quarter in the harder formats) and 1-2 decoy sentences between its own sentences."""
    rng = random.Random(seed)
    docs = []
    for lang in ("ko", "en"):
        for k, carrier in enumerate(carriers(data, lang, n_docs, rng)):
            sents = _sentences(carrier)
            items: list[tuple[str, str, str, str]] = []  # (sentence, value, label, kind)
            for j in range(rng.randint(1, 3)):
                t = PII_TYPES[(k * 3 + j) % len(PII_TYPES)]
                s, v = hard_value(rng, t, lang) if rng.random() < 0.25 else pii_sentence(rng, t, lang)
                items.append((s, v, "pii", t))
            for _ in range(rng.randint(1, 2)):
                s, v, kind = decoy_sentence(rng, lang)
                items.append((s, v, "decoy", kind))
            for it in items:
                sents.insert(rng.randint(0, len(sents)), it)
            text, pii, decoys = "", [], []
            for s in sents:
                if text:
                    text += " "
                if isinstance(s, tuple):
                    sentence, value, label, kind = s
                    at = len(text) + sentence.index(value)
                    (pii if label == "pii" else decoys).append((kind, at, at + len(value)))
                    text += sentence
                else:
                    text += s
            docs.append({"lang": lang, "text": text, "pii": pii, "decoys": decoys})
    return docs


# ------------------------------------------------------------------------------------------- scoring
def score(docs: list[dict], find) -> dict:
    """Per type: tp, fp, fn; decoys flagged per kind; carrier findings (type, value) apart."""
    out = {t: {"tp": 0, "fp": 0, "fn": 0} for t in PII_TYPES}
    decoys: dict[str, list[int]] = {}
    carrier: list[tuple[str, str, str]] = []
    for d in docs:
        found = find(d["text"])
        labelled = {(t, s, e) for t, s, e in d["pii"]}
        hit = set()
        for t, s, e in found:
            if (t, s, e) in labelled:
                out[t]["tp"] += 1
                hit.add((t, s, e))
            elif any(s < le and e > ls for _, ls, le in d["pii"]):
                out[t]["fp"] += 1
            elif any(s < de and e > ds for _, ds, de in d["decoys"]):
                out[t]["fp"] += 1
            else:
                carrier.append((d["lang"], t, d["text"][s:e]))
        for t, _, _ in labelled - hit:
            out[t]["fn"] += 1
        for kind, ds, de in d["decoys"]:
            n, flagged = decoys.get(kind, [0, 0])
            decoys[kind] = [n + 1, flagged + any(s < de and e > ds for _, s, e in found)]
    return {"types": out, "decoys": decoys, "carrier": carrier}


def _pr(c: dict) -> tuple[float, float, float]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--docs", type=int, default=1000, help="carrier documents per language")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    docs = build(args.data, args.docs, args.seed)
    det, peer = Detector(), DpsStyle()
    started = time.perf_counter()
    moru = score(docs, lambda text: [(f.type, f.start, f.end) for f in det.find(text)])
    moru_s = time.perf_counter() - started
    started = time.perf_counter()
    dps = score(docs, peer.find)
    dps_s = time.perf_counter() - started
    chars = sum(len(d["text"]) for d in docs)
    n_pii = sum(len(d["pii"]) for d in docs)
    n_decoys = sum(len(d["decoys"]) for d in docs)
    n_ko = sum(d["lang"] == "ko" for d in docs)
    print(f"{len(docs)} documents ({n_ko} Korean news + {len(docs) - n_ko} English web pages as carriers), "
          f"{chars:,} characters, {n_pii} planted PII values, {n_decoys} decoys; seed {args.seed}")  # fmt: skip
    print(f"\n{'type':<13} {'planted':>7} | {'moru P':>7} {'moru R':>7} {'TP':>5} {'FP':>4} {'FN':>4} | "
          f"{'dps P':>7} {'dps R':>7} {'TP':>5} {'FP':>4} {'FN':>4}")  # fmt: skip
    totals = {"moru": {"tp": 0, "fp": 0, "fn": 0}, "dps": {"tp": 0, "fp": 0, "fn": 0}}
    for t in PII_TYPES:
        m, p = moru["types"][t], dps["types"][t]
        for name, c in (("moru", m), ("dps", p)):
            for k in c:
                totals[name][k] += c[k]
        mp, mr, _ = _pr(m)
        pp, pr, _ = _pr(p)
        print(f"{t:<13} {m['tp'] + m['fn']:>7} | {mp:>7.3f} {mr:>7.3f} {m['tp']:>5} {m['fp']:>4} {m['fn']:>4} | "
              f"{pp:>7.3f} {pr:>7.3f} {p['tp']:>5} {p['fp']:>4} {p['fn']:>4}")  # fmt: skip
    mp, mr, mf = _pr(totals["moru"])
    pp, pr, pf = _pr(totals["dps"])
    print(f"{'all':<13} {n_pii:>7} | {mp:>7.3f} {mr:>7.3f} {totals['moru']['tp']:>5} {totals['moru']['fp']:>4} "
          f"{totals['moru']['fn']:>4} | {pp:>7.3f} {pr:>7.3f} {totals['dps']['tp']:>5} {totals['dps']['fp']:>4} "
          f"{totals['dps']['fn']:>4}")  # fmt: skip
    print(f"\n{'decoy kind':<22} {'planted':>7} {'moru flagged':>13} {'dps flagged':>12}")
    for kind in sorted(moru["decoys"]):
        n, f = moru["decoys"][kind]
        print(f"{kind:<22} {n:>7} {f:>13} {dps['decoys'][kind][1]:>12}")
    for name, res in (("moru", moru), ("dps", dps)):
        by: dict[str, int] = {}
        for _, t, _ in res["carrier"]:
            by[t] = by.get(t, 0) + 1
        print(f"\nfindings in the carrier text itself ({name}; real PII or false alarms, outside precision): "
              f"{len(res['carrier'])} {dict(sorted(by.items()))}")  # fmt: skip
        for lang, t, v in res["carrier"][:8]:
            print(f"  {lang} {t}: {v!r}")
    print(f"\nscan time: moru {moru_s:.2f} s, dps-style {dps_s:.2f} s for {chars / 1e6:.1f} M characters")
    print(f"headline: micro F1 over all types: moru {mf:.3f} vs dps-style {pf:.3f} (precision {mp:.3f} vs {pp:.3f}, "
          f"recall {mr:.3f} vs {pr:.3f}) on the same set")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
