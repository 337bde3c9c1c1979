"""How large an input svdgrad reads: checked from headers, before anything is allocated (--max-elements).

Imports nothing, so options.py (and with it ``svdgrad --help``) can name the default without NumPy.
"""

# 2**26 entries: 512 MiB per float64 copy; an SVD and its gradient hold several copies.
DEFAULT_MAX_ELEMENTS = 2**26
