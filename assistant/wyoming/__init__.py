"""The Wyoming server for Home Assistant: Rosey's ears (asr), mouth (tts) and brain (handle) on a socket.

``assistant wyoming`` starts it (``server.run_server``). This package file
imports nothing, so ``assistant/config.py`` can read ``settings`` without
loading the server.
"""
