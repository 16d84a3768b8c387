"""``python -m ocianalyze``: the same entry as the console script."""

from ocianalyze_entry import main

main()
