"""One-off measurements behind notes in PROFILES.md; not part of any report."""
