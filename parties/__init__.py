"""Party nodes, the coordinator and everything that touches files and networks.

It uses :mod:`mpc` for the protocols; :mod:`mpc` never imports this package.
"""
