"""Case studies: thin scripts over the public API, one per study, each with ``--quick``.

Run one with ``taskdd run NAME`` or ``python -m case_studies.NAME``.
"""
