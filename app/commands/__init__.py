"""One module per group of `lore` subcommands; each defines `register(subparsers, common)`.

`app.cli` discovers every module here, so adding a command is adding a module.
"""
