"""Tips: a tip from draft to stored, its evaluation, clusters and score."""
