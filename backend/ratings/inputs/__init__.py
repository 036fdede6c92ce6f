"""Each area's automatic inputs of the assessment schemes, loaded by backend.ratings.providers.load_inputs."""
