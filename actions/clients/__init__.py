"""One small client module per outside service; each returns outcomes, not exceptions."""
