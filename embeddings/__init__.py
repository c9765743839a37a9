"""Embeddings and the training-data leakage index (``aiposture.embeddings``).

Imports nothing heavy: the embedding model and FAISS load on first use.
"""
