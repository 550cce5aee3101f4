"""Rosey Assistant: the program (config, orchestrator, CLI) built on ``llm``."""
