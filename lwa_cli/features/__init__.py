"""Pure feature numerics: segment pooling, log-mel features and conv-layer alignment."""
