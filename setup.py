"""The optional C part: the hot loop of the tar header walker (ocianalyze/_tarscan.c).

optional=True: where no C compiler is at hand the install still succeeds and the pure-Python
walker does all the work, at a few microseconds more per tar header.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("ocianalyze._tarscan", ["ocianalyze/_tarscan.c"], optional=True),
    ]
)
