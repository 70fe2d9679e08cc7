"""Rasa-side code of Saathi: NLU components, a policy and channel connectors.

Modules directly under ``bot/nlu`` whose names do not start with ``components`` are pure
Python (no Rasa import) so that the action server can reuse them.
"""
