"""Loading on a Dask cluster: the per-file work of a load (reading, parsing, analysis, checks) runs
on Dask workers, while the one writer stays in the loading process (see docs/architecture.md).

* :mod:`.connect`: what ``--dask`` names (a scheduler's address, or ``local[:N]``), and the client;
* :mod:`.dispatch`: files sent a few at a time, results taken back in order, failures as load errors.
"""
