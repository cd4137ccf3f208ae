"""Build and test tools kept out of the wheel: digit generators and the browser page driver.

Used by ``scripts/``, ``bench/`` and ``tests/`` from a checkout; never by the installed
package. ``drawn_digits``, ``drawn_variations`` and ``drawn_ones_and_sevens`` draw digits as
strokes through the pad's path; ``augmented_copies`` makes distorted copies of MNIST digits;
``strokes`` holds the stroke shapes and hand changes they share; ``pagedriver`` drives the
Voila dashboard in headless Chromium.
"""
