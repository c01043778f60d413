"""Satisfaction (SPEC §6): ratings, the supervisor review of dissatisfied ratings, reopening,
and the agent metrics kept in rollup tables as events happen.

It may import every other package of `desk`.
"""
