"""Test-only module_utils: a module-level counter. A module that bumps it
once reads 1 in a fresh interpreter; more means an earlier module's import
was reused."""

COUNT = 0


def bump():
    global COUNT
    COUNT += 1
    return COUNT
