"""The answer layer: the first line made from the evidence (direct.py) and the one decision to answer (decision.py)."""
