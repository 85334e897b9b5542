"""Runtime glue every service needs: settings base, logging set-up, Kafka client factories."""
