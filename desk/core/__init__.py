"""The platform's kernel, used by every other package: the one clock, the database handle and
transactions, the domain errors, money in fen, times, free-text input, masking, the label
catalogue, background work (`tasks`), the deadline machinery and the migration runner.

It may import `config` and third-party libraries only: nothing else of the desk.
"""
