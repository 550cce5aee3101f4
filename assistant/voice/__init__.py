"""Talking out loud: the voice loop, its events, the speech models it loads, the `listen` and `voice` commands.

    models = SpeechModels.from_config(config)            # assistant.voice.models
    loop = VoiceLoop.from_config(config, session, models, microphone, speaker, on_event)   # .loop
    await loop.run()

This package imports nothing itself: ``assistant/config.py`` reads
``assistant.voice.settings`` on every start, and the loop's modules need the
config, so they are imported by name where they are used.
"""
