"""Home Assistant using Rosey for speech to text and text to speech."""

from __future__ import annotations

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioStart
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from audio import Synthesizer, Transcriber, read_audio
from audio.resample import resample
from audio.settings import STTSettings
from audio.types import SAMPLE_RATE
from tests.audio.speech import JFK_PATH, JFK_TEXT, other_voice
from tests.wer import word_error_rate
from tests.wyoming.conftest import served, wyoming_config
from tests.wyoming.wire import as_pcm16, audio_stream, is_type, read_one, read_until, received_audio, send


def heard_in(transcriber: Transcriber, events: list[Event]) -> str:
    """What Whisper hears in the audio of ``events``."""
    pcm, rate = received_audio(events)
    return transcriber.transcribe(resample(pcm, rate, SAMPLE_RATE)).text


async def test_describe_lists_the_whisper_model_the_piper_voice_and_the_assistant(wyoming_server) -> None:
    async with wyoming_server.client() as client:
        await send(client, Describe().event())
        info = Info.from_event(await read_one(client))

    [asr] = info.asr
    assert [(model.name, model.languages) for model in asr.models] == [("tiny.en", ["en"])]
    [tts] = info.tts
    [voice] = tts.voices
    assert (voice.name, voice.languages, tts.supports_synthesize_streaming) == ("en_US-joe-medium", ["en_US"], True)
    [handle] = info.handle
    assert handle.name == "rosey" and handle.models[0].name == "default"


async def test_a_recording_at_44_1_khz_stereo_is_transcribed(wyoming_server) -> None:
    speech = resample(read_audio(JFK_PATH), SAMPLE_RATE, 44_100)
    async with wyoming_server.client() as client:
        await send(client, Transcribe(language="en").event(),
                   *audio_stream(as_pcm16(speech, channels=2), rate=44_100, width=2, channels=2))
        event = (await read_until(client, is_type("transcript", "error")))[-1]

    assert event.type == "transcript", event.data
    assert word_error_rate(JFK_TEXT, Transcript.from_event(event).text) <= 0.1


async def test_a_language_the_english_only_model_cannot_transcribe_is_an_error_and_the_audio_is_still_heard(
    wyoming_server,
) -> None:
    speech = read_audio(JFK_PATH)
    async with wyoming_server.client() as client:
        await send(client, Transcribe(language="de-DE").event(),
                   *audio_stream(as_pcm16(speech, channels=1), rate=SAMPLE_RATE, width=2, channels=1))
        events = await read_until(client, is_type("transcript"))

    [error] = [event for event in events if event.type == "error"]
    assert error.data["code"] == "unknown-language"
    assert "'de-DE'" in error.data["text"] and "audio.stt.model" in error.data["text"]
    assert word_error_rate(JFK_TEXT, Transcript.from_event(events[-1]).text) <= 0.1


async def test_the_language_home_assistant_names_is_the_one_a_multilingual_model_transcribes(
    tmp_path, model_cache, synthesizer: Synthesizer
) -> None:
    """Home Assistant sends its pipeline's language with every request; Whisper must not guess over it."""
    question = as_pcm16(other_voice("¿Qué tiempo hace en Madrid mañana?", "es"), channels=1)
    base = Transcriber(STTSettings(model="base", fallback_model=None), cache_dir=model_cache)
    config = wyoming_config(tmp_path, **{"audio.stt.model": "base", "wyoming.services": ["asr"]})
    heard = {}
    try:
        async with served(config, base, synthesizer) as server:
            for language in ("es-ES", "en_US"):
                async with server.client() as client:
                    await send(client, Transcribe(language=language).event(),
                               *audio_stream(question, rate=SAMPLE_RATE, width=2, channels=1))
                    event = (await read_until(client, is_type("transcript", "error")))[-1]
                assert event.type == "transcript", event.data
                heard[language] = Transcript.from_event(event).language
    finally:
        base.close()

    assert heard == {"es-ES": "es", "en_US": "en"}


async def test_synthesized_speech_says_the_text(wyoming_server, transcriber: Transcriber) -> None:
    text = "The kitchen light is on. The front door is locked."
    async with wyoming_server.client() as client:
        await send(client, Synthesize(text=text, voice=SynthesizeVoice(name="en_US-joe-medium")).event())
        events = await read_until(client, is_type("audio-stop", "error"))

    assert events[0].type == "audio-start" and events[-1].type == "audio-stop"
    assert received_audio(events)[1] == AudioStart.from_event(events[0]).rate
    heard = heard_in(transcriber, events)
    assert word_error_rate(text, heard) <= 0.2, heard


async def test_streamed_text_is_spoken_as_soon_as_its_first_sentence_is_complete(
    wyoming_server, transcriber: Transcriber
) -> None:
    async with wyoming_server.client() as client:
        await send(client, SynthesizeStart().event(), SynthesizeChunk(text="The weather is sunny. ").event(),
                   SynthesizeChunk(text="It will be warm").event())
        first = await read_until(client, is_type("audio-chunk", "error"))
        assert [event.type for event in first] == ["audio-start", "audio-chunk"]

        await send(client, SynthesizeChunk(text=" all day. Take a hat.").event(),
                   Synthesize(text="The weather is sunny. It will be warm all day. Take a hat.").event(),
                   SynthesizeStop().event())
        rest = await read_until(client, is_type("synthesize-stopped", "error"))

    assert [event.type for event in rest[-2:]] == ["audio-stop", "synthesize-stopped"]
    assert not any(event.type == "audio-start" for event in rest), "one audio stream for the whole text"
    heard = heard_in(transcriber, first + rest)
    assert word_error_rate("The weather is sunny. It will be warm all day. Take a hat.", heard) <= 0.25, heard


LONG_FIRST_SENTENCE = "When you leave the house tonight, remember that the back door is still open. Sleep well."


async def test_a_long_first_sentence_starts_speaking_at_its_first_clause_before_the_sentence_is_complete(
    wyoming_server, transcriber: Transcriber
) -> None:
    async with wyoming_server.client() as client:
        await send(client, SynthesizeStart().event(),
                   SynthesizeChunk(text="When you leave the house tonight, remember that").event())
        first = await read_until(client, is_type("audio-chunk", "error"))
        assert [event.type for event in first] == ["audio-start", "audio-chunk"]
        await send(client, Ping(text="after the first clause").event())  # answered once that clause is all sent
        first += await read_until(client, is_type("pong", "error"))

        await send(client, SynthesizeChunk(text=" the back door is still open. Sleep well.").event(),
                   Synthesize(text=LONG_FIRST_SENTENCE).event(), SynthesizeStop().event())
        rest = await read_until(client, is_type("synthesize-stopped", "error"))

    clause = heard_in(transcriber, first)
    assert word_error_rate("When you leave the house tonight,", clause) <= 0.2, clause
    heard = heard_in(transcriber, first + rest)
    assert word_error_rate(LONG_FIRST_SENTENCE, heard) <= 0.2, heard


async def test_a_whole_text_cut_at_its_first_clause_is_still_spoken_word_for_word(
    wyoming_server, transcriber: Transcriber
) -> None:
    async with wyoming_server.client() as client:
        await send(client, Synthesize(text=LONG_FIRST_SENTENCE).event())
        events = await read_until(client, is_type("audio-stop", "error"))

    assert [events[0].type, events[-1].type] == ["audio-start", "audio-stop"]
    assert sum(event.type == "audio-start" for event in events) == 1, "one audio stream for the whole text"
    heard = heard_in(transcriber, events)
    assert word_error_rate(LONG_FIRST_SENTENCE, heard) <= 0.2, heard
