"""Discovery: scanners that find AI assets, and the engine that runs them."""
