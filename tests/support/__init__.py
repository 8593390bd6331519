"""Test support code: a loopback Hugging Face Hub server and the pytest fixtures that point the client at it."""
