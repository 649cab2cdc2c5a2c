"""Clara federated learning (config_fed_server.json, config_fed_client.json) to NVIDIA
FLARE: the mapping table (`table`) and the account of a config's every setting
(`account`)."""
