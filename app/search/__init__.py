"""Search: one text analysis for documents and queries, on both engines (issue 14)."""
