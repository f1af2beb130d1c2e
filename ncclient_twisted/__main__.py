"""``python -m ncclient_twisted``: the ``ncclient-twisted`` command."""

from ncclient_twisted._cli import main

if __name__ == "__main__":
    main()
