"""The ``townsquare`` command line and the local services it drives."""
