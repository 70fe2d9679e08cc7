"""Rasa event brokers of Saathi."""
