"""Command line: `python -m kb_index build SOURCE... --index DIR` and `search`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional


def _settings():  # type: ignore[no-untyped-def]
    from actions.config import load_settings

    return load_settings()


def cmd_build(args: argparse.Namespace) -> int:
    from kb_index.index import NothingImported, build

    settings = _settings()
    index = args.index or settings.kb_index
    model = args.model or settings.embed_model
    progress = not args.quiet and sys.stderr.isatty() or args.progress
    try:
        report = build(args.sources, index, model, progress=progress,
                       glossary=(args.glossary if args.glossary is not None else settings.kb_glossary) or None)
    except NothingImported as exc:
        for problem in exc.args[0].problems:
            print(f"skipped {problem}", file=sys.stderr)
        print("error: nothing could be imported; the previous index (if any) is unchanged", file=sys.stderr)
        return 1
    for problem in report.problems:
        print(f"skipped {problem}", file=sys.stderr)
    rate = ""
    if report.encoded and report.encode_seconds:
        rate = (f"; encoding {report.encoded / report.encode_seconds:.1f} passages/s, "
                f"{report.encoded_chars / report.encode_seconds:,.0f} characters/s")
    print(
        f"indexed {report.articles} article versions, {report.passages} passages "
        f"({report.encoded} encoded, {report.reused} unchanged) with {model} "
        f"in {report.seconds:.1f}s{rate} -> {index} [{report.version}]"
        + (f"; {len(report.problems)} problem(s) above" if report.problems else "")
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from kb_index.embed import fingerprint, resolve_model
    from kb_index.index import FORMAT, current_version, read_meta

    settings = _settings()
    folder = current_version(Path(args.index or settings.kb_index))
    if folder is None:
        print("no index", file=sys.stderr)
        return 1
    meta = read_meta(folder)
    wanted = (FORMAT, settings.embed_model, fingerprint(resolve_model(settings.embed_model)), settings.kb_glossary or None)
    found = (meta.get("format"), meta.get("model"), meta.get("model_fingerprint"), meta.get("glossary"))
    if found != wanted:
        print(f"index built as {found}, configured {wanted}", file=sys.stderr)
        return 1
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from kb_index.search import HelpCentre, IndexMissing, hits_json

    settings = _settings()
    try:
        centre = HelpCentre.load(args.index or settings.kb_index)
    except IndexMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    question = " ".join(args.question)
    hits = centre.search(question, k=args.k, language=args.language)
    if args.json:
        print(hits_json(hits))
        return 0
    if not hits:
        print("no match")
    for n, hit in enumerate(hits, 1):
        print(f"{n}. [{hit.score:.3f}] {hit.title} ({hit.article_id}, {hit.lang}) {hit.url}")
        print("   " + hit.text.replace("\n", "\n   "))
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_index", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="import help-centre files or folders and (re)build the index")
    b.add_argument("sources", nargs="+", help="Markdown, CSV, HTML or JSON files, or folders")
    b.add_argument("--index", help="index folder (default: SAATHI_KB_INDEX)")
    b.add_argument("--model", help="sentence-transformers model name or path (default: SAATHI_EMBED_MODEL)")
    b.add_argument("--glossary", help="a shop's synonym list (YAML); default SAATHI_KB_GLOSSARY, none if unset")
    b.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_build)
    c = sub.add_parser("check", help="exit 0 if the index is current for the configured model, 1 if it needs a build")
    c.add_argument("--index", help="index folder (default: SAATHI_KB_INDEX)")
    c.set_defaults(func=cmd_check)
    s = sub.add_parser("search", help="search the index")
    s.add_argument("question", nargs="+")
    s.add_argument("--index", help="index folder (default: SAATHI_KB_INDEX)")
    s.add_argument("--k", type=int, default=5, help="number of articles (default 5)")
    s.add_argument("--language", choices=["en", "hi", "bn", "hi-Latn", "bn-Latn"],
                   help="shopper's language form: picks which version to quote")
    s.add_argument("--json", action="store_true", help="print a JSON list")
    s.set_defaults(func=cmd_search)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
