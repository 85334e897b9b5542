"""``python -m simulator.demo``: the demo (see ``simulator.demo.run``)."""

from simulator.demo.run import main

main()
