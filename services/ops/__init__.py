"""Operations on the bus's Kafka cluster: principals, credentials and ACLs.

Run as ``python -m services.ops``."""
