"""Moved to ``tests.support.fakehub``; this module only keeps ``python -m tests.fakehub`` working for
bench/model_loading.py until it runs ``python -m tests.support.fakehub``."""

from tests.support.fakehub import main

if __name__ == "__main__":
    main()
