"""Rasa-side stores: a tracker store that never loses a conversation silently."""
