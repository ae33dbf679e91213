"""What lets a client keep a copy of its tasks: the changes feed's sync tokens (``sync.tokens``), and the
retention of what clients sync and retry against, deletions and recorded answers (``sync.retention``)."""
