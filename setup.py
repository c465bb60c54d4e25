"""The one compiled module: viewcount._eventscan, the validator's fast path (see its source).

It is optional: where no C compiler is found, the install goes on without it and
viewcount.eventbatch reads every value in Python, with the same answers, more slowly.
Everything else about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("viewcount._eventscan", ["viewcount/_eventscan.c"], optional=True)])
