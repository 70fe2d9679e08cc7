"""kb_index.evaluate: the README block and the hit counting."""
from __future__ import annotations

from kb_index.evaluate import evaluate, table, write_readme


def test_write_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nIntro.\n\n<!-- kb-eval:start -->\nold table\nold line\n<!-- kb-eval:end -->\n\n"
                      "## After\nKeep me.\n", encoding="utf-8")
    write_readme(readme, "new table with a \\1 backslash")
    assert readme.read_text(encoding="utf-8") == (
        "# Title\n\nIntro.\n\n<!-- kb-eval:start -->\nnew table with a \\1 backslash\n<!-- kb-eval:end -->\n\n"
        "## After\nKeep me.\n")
    write_readme(readme, "third")
    assert readme.read_text(encoding="utf-8").count("<!-- kb-eval:start -->") == 1
    assert "\nthird\n" in readme.read_text(encoding="utf-8")
    assert "new table" not in readme.read_text(encoding="utf-8")


def test_write_readme_appends_when_markers_missing(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nNo block yet.\n", encoding="utf-8")
    write_readme(readme, "the table")
    assert readme.read_text(encoding="utf-8") == (
        "# Title\n\nNo block yet.\n\n<!-- kb-eval:start -->\nthe table\n<!-- kb-eval:end -->\n")
    write_readme(readme, "other", name="nlu-eval")  # another block name is a separate block
    text = readme.read_text(encoding="utf-8")
    assert "<!-- kb-eval:start -->\nthe table\n<!-- kb-eval:end -->" in text
    assert text.endswith("<!-- nlu-eval:start -->\nother\n<!-- nlu-eval:end -->\n")


def test_evaluate_counts_hits(demo_centre):
    questions = [
        {"lang": "en", "article": "returns-policy", "q": "What is your return policy?"},
        {"lang": "en", "article": "login-otp", "q": "What is your return policy?"},  # wrong on purpose
        {"lang": "en", "article": None, "q": "who won the cricket match yesterday"},
        {"lang": "hi", "article": "payment-methods", "q": "क्या आप नेट बैंकिंग और UPI लेते हैं?"},
        {"lang": "bn", "article": "refunds", "q": "টাকা ফেরত পেতে কত দিন লাগে?"},
    ]
    result = evaluate(demo_centre, questions)
    en, hi, bn = (dict(result["stats"][form]) for form in ("en", "hi", "bn"))
    assert (en["same"], en["same@1"], en["same@3"], en["same_answered"]) == (2, 1, 1, 1)
    assert (en["oos"], en.get("oos_answered", 0)) == (1, 0)
    assert en["cross"] == 2  # both articles also exist in hi/bn
    # payment-methods has no Hindi version: only a cross-language question.
    assert hi.get("same", 0) == 0
    assert (hi["cross"], hi["cross@1"], hi["cross@3"]) == (1, 1, 1)
    assert (bn["same"], bn["same@1"], bn["same_answered"], bn["cross"]) == (1, 1, 1, 1)
    assert len([m for m in result["misses"] if m.startswith("same [en]")]) == 1
    assert "want login-otp" in result["misses"][0]
    rendered = table(result)
    assert "| en | 2 | 50.0% | 50.0% | 50.0% | 2 |" in rendered
    assert "| bn-Latn | 0 | — |" in rendered
    assert rendered.splitlines()[-1].startswith("| **all** | 3 |")
