"""Help-centre knowledge base: import articles, embed passages, index them, search them.

`python -m kb_index build SOURCE... --index DIR` and `python -m kb_index search --index DIR "q"`.
"""
