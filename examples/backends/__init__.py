"""Stabilised SVD backward passes as users write them, each a plug-in backend for svdgrad.

Use one as ``-b FRAMEWORK:examples.backends.MODULE:svd`` from the repository's root.
"""
