"""Saathi's rasa-sdk action server (`python -m rasa_sdk --actions actions`).

rasa-sdk imports every submodule at start-up: modules here do no work at import time.
"""
