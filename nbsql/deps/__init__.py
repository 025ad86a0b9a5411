"""Code dependency profiling: what each Python cell defines, uses and calls (:mod:`.names`), which
earlier cell each use needs (:mod:`.graph`), and a cell's slice, the cells it needs to run, as a
notebook (:mod:`.slice`). The load stores the first two in ``cell_names`` and ``cell_dependencies``.
"""
