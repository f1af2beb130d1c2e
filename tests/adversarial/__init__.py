"""Adversarial tests: hostile and quirky peers (servers no one here wrote, OpenSSH as the
oracle), shutdown in every state, limits; each on both transports."""
