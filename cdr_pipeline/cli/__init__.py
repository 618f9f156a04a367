"""The command-line interface: the only package that imports click.

Each module here is one command group and exposes `COMMANDS`, a list of click commands;
`main.py` discovers them, so adding a command never means editing the root.
"""
