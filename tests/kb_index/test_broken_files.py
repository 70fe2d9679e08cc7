"""Every broken file is one problem with its reason; the rest of the folder still imports."""
from __future__ import annotations

import json

import pytest

from kb_index.importers import import_sources

from tests.kb_index.helpers import md

GOOD = md("good", "Delivery times", "Orders arrive in two to five days.\n")

BROKEN_FILES = {
    # name: (content, words the reason must contain)
    "bad-yaml.md": ("---\nid: x\ntitle: [unclosed\n---\nBody text.\n", ["bad front matter", "line 3"]),
    "unclosed.md": ("---\nid: x\ntitle: Unclosed\nBody text.\n", ["front matter is not closed"]),
    "no-front-matter.md": ("# Just a heading\n\nSome text.\n", ["no front matter"]),
    "not-a-mapping.md": ("---\n- just\n- a list\n---\nBody.\n", ["bad front matter", "key: value"]),
    "no-title.md": ("---\nid: x\n---\nBody.\n", ["missing title"]),
    "no-body.md": ("---\nid: x\ntitle: Empty body\n---\n\n   \n", ["no article text"]),
    "binary.md": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", ["binary"]),
    "empty.md": (b"", ["empty file"]),
    "whitespace.md": (b"  \n\t\r\n   \n", ["empty file"]),
    "latin1.md": (b"\xff\xfe caf\xe9", ["not UTF-8", "byte 0"]),
    "latin1-later.csv": (b"question,answer\nWhere is my caf\xe9?,Here.\n", ["not UTF-8", "byte 31"]),
    "missing-column.csv": ("question,reply\nWhat?,That.\n", ["CSV header lacks answer", "question, reply"]),
    "header-only.csv": ("question,answer\n", ["no question-and-answer rows"]),
    "invalid.json": ('[{"id": "x", "title": "T",\n "body": }]', ["invalid JSON", "line 2"]),
    "not-a-list.json": ('{"id": "x"}', ["expected a JSON list"]),
    "empty-list.json": ("[]", ["empty list"]),
    "no-text.html": ("<html><head><title>Only chrome</title></head><body><nav>Home</nav>"
                     "<footer>(c) shop</footer></body></html>", ["no article text in the page"]),
    "no-title.html": ("<html><body><p>Text but no title anywhere.</p></body></html>", ["no title"]),
}


def _problems_for(result, name):
    return [p for p in result.problems if p.source.split("/")[-1].split(":")[0].split("[")[0] == name]


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_file_is_one_problem_and_the_rest_imports(name, write, tmp_path):
    content, words = BROKEN_FILES[name]
    write("good.md", GOOD)
    path = write(name, content)
    result = import_sources([tmp_path / "src"])
    assert [(a.id, a.lang) for a in result.articles] == [("good", "en")]
    assert len(result.problems) == 1, result.problems
    [problem] = result.problems
    assert problem.source == str(path)
    for word in words:
        assert word in problem.reason, (word, problem.reason)
    assert str(problem) == f"{path}: {problem.reason}"
    assert "\n" not in str(problem)


def test_all_broken_files_together(write, tmp_path):
    write("good.md", GOOD)
    for name, (content, _) in BROKEN_FILES.items():
        write(f"broken/{name}", content)
    result = import_sources([tmp_path / "src"])
    assert [a.id for a in result.articles] == ["good"]
    names = sorted(p.source.rsplit("/", 1)[-1] for p in result.problems)
    assert names == sorted(BROKEN_FILES)


def test_duplicate_id_and_lang_across_two_files(write, tmp_path):
    first = write("a-first.md", md("returns", "Returns", "Ten days.\n"))
    second = write("b-second.md", md("returns", "Returns again", "Another copy.\n"))
    write("c-hindi.md", md("returns", "रिटर्न", "दस दिन।\n", lang="hi"))  # other language: fine
    result = import_sources([tmp_path / "src"])
    assert sorted((a.lang, a.title) for a in result.articles) == [("en", "Returns"), ("hi", "रिटर्न")]
    [problem] = result.problems
    assert problem.source == str(second)
    assert "duplicate id 'returns' (en)" in problem.reason
    assert str(first) in problem.reason


def test_csv_row_with_wrong_field_count_names_its_line(write):
    path = write("faq.csv", "question,answer\n"
                            "Do you deliver on Sunday?,Yes.\n"
                            "Is COD available?,Yes,up to 10000\n"
                            "Can I change my address?,Before shipping.\n")
    result = import_sources([path])
    assert sorted(a.questions[0] for a in result.articles) == ["Can I change my address?", "Do you deliver on Sunday?"]
    [problem] = result.problems
    assert problem.source == f"{path}:3"
    assert problem.reason == "expected 2 fields, found 3"


def test_csv_row_with_empty_answer(write):
    path = write("faq.csv", "question,answer\n"
                            "Do you deliver on Sunday?,Yes.\n"
                            "\n"
                            "Is COD available?,  \n")
    result = import_sources([path])
    assert [a.questions for a in result.articles] == [["Do you deliver on Sunday?"]]
    [problem] = result.problems
    assert problem.source == f"{path}:4"  # the blank line 3 is skipped silently
    assert problem.reason == "empty question or answer"


def test_csv_line_numbers_count_quoted_newlines(write):
    path = write("faq.csv", 'question,answer\n"Two\nline question?","Answer\nover lines"\nBroken row only\n')
    result = import_sources([path])
    assert [a.questions for a in result.articles] == [["Two\nline question?"]]
    [problem] = result.problems
    assert problem.source == f"{path}:5"  # the quoted row spans lines 2-4
    assert problem.reason == "expected 2 fields, found 1"


def test_json_item_missing_body_others_import(write):
    path = write("articles.json", json.dumps([
        {"id": "ok", "title": "Fine", "body": "Has a body.", "lang": "en"},
        {"id": "nobody", "title": "No body here", "lang": "en"},
        "not an object",
        {"title": "No id", "body": "Text.", "lang": "en"},
    ]))
    result = import_sources([path])
    assert [a.id for a in result.articles] == ["ok"]
    assert [(p.source, p.reason) for p in result.problems] == [
        (f"{path}[2]", "no article text"),
        (f"{path}[3]", "item is not an object"),
        (f"{path}[4]", "missing id"),
    ]


def test_unsupported_file_type_named_explicitly(write, tmp_path):
    notes = write("notes.txt", "Just some notes.\n")
    write("good.md", GOOD)
    # Inside a folder, other file types are skipped quietly (images, PDFs next to the articles)...
    assert import_sources([tmp_path / "src"]).problems == []
    # ...but a file the shop names itself is reported.
    result = import_sources([notes, tmp_path / "src" / "good.md"])
    assert [a.id for a in result.articles] == ["good"]
    [problem] = result.problems
    assert (problem.source, problem.reason) == (str(notes), "unsupported file type '.txt'")


def test_missing_path(write, tmp_path):
    good = write("good.md", GOOD)
    result = import_sources([tmp_path / "nowhere", tmp_path / "gone.md", good])
    assert [a.id for a in result.articles] == ["good"]
    assert [(p.source, p.reason) for p in result.problems] == [
        (str(tmp_path / "nowhere"), "no such file or folder"),
        (str(tmp_path / "gone.md"), "no such file or folder"),
    ]


def test_hidden_files_are_skipped(write, tmp_path):
    write("good.md", GOOD)
    write(".drafts/broken.md", b"\x00\x01")
    write(".DS_Store.md", b"")
    result = import_sources([tmp_path / "src"])
    assert ([a.id for a in result.articles], result.problems) == (["good"], [])
