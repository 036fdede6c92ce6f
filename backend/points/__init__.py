"""Villager points (村民积分制): versioned rule books, claims and their review, the append-only ledger."""
