"""AWS adapters: the only place importing boto3 and Powertools. Clients are injectable for tests."""
