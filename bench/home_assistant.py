"""A real Home Assistant adds Rosey as a Wyoming integration and runs an Assist pipeline on it.

    python3 -m venv /tmp/ha && /tmp/ha/bin/pip install homeassistant==2024.3.3 wyoming==1.5.3
    sudo apt-get install ffmpeg     # Home Assistant converts every TTS answer with it
    /tmp/ha/bin/python bench/home_assistant.py [--rosey .venv/bin/assistant]

Home Assistant 2024.3 is the last release that runs on Python 3.11; it offers
Wyoming speech-to-text, text-to-speech and wake words (the conversation agent
came later). Its own code does everything here, in-process, as its UI would:
the config flow adds the integration from host and port, its pipeline store
picks Rosey's engines for the instance's language, and one pipeline run goes
wake word -> speech-to-text -> Home Assistant's own intents -> text-to-speech.
The speech it hears is Rosey's own TTS fetched through Home Assistant's media
source (16 kHz mono, as a satellite sends), streamed at real-time pace; jfk.flac
then goes through the STT entity alone. Home Assistant installs the packages
its built-in integrations need on the first run (from the package index).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

# This folder's wyoming.py (Rosey's own benchmark) would shadow the wyoming package Home Assistant imports.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

from homeassistant import bootstrap, config_entries, runner
from homeassistant.components import assist_pipeline, stt, tts
from homeassistant.components.assist_pipeline.pipeline import (
    PipelineEventType,
    PipelineStage,
    async_create_default_pipeline,
    async_update_pipeline,
)
from homeassistant.core import Context, HomeAssistant

ROOT = Path(__file__).resolve().parent.parent
JFK = ROOT.parent / "shared" / "audio" / "jfk.flac"
CONFIGURATION = """homeassistant:
  name: rosey-check
  time_zone: UTC
  latitude: 0
  longitude: 0
http:
  server_port: {http_port}
assist_pipeline:
media_source:
"""
SATELLITE = stt.SpeechMetadata(
    language="en", format=stt.AudioFormats.WAV, codec=stt.AudioCodecs.PCM, bit_rate=stt.AudioBitRates.BITRATE_16,
    sample_rate=stt.AudioSampleRates.SAMPLERATE_16000, channel=stt.AudioChannels.CHANNEL_MONO,
)
SHOWN = (PipelineEventType.WAKE_WORD_END, PipelineEventType.STT_END, PipelineEventType.INTENT_END,
         PipelineEventType.TTS_END, PipelineEventType.ERROR)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def silence(seconds: float) -> bytes:
    return bytes(2 * round(16_000 * seconds))


async def real_time(pcm: bytes) -> AsyncIterator[bytes]:
    """``pcm`` (16 kHz, 16-bit mono) in 64 ms chunks at the pace a satellite's microphone sends them."""
    for start in range(0, len(pcm), 2048):
        yield pcm[start:start + 2048]
        await asyncio.sleep(1024 / 16_000)


def wav_frames(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        return wav.readframes(wav.getnframes())


async def spoken(hass: HomeAssistant, tts_id: str, text: str) -> bytes:
    """``text`` said by the TTS entity, fetched the way a satellite fetches an answer."""
    media_id = tts.generate_media_source_id(hass, text, tts_id, "en_US", options={
        "preferred_format": "wav", "preferred_sample_rate": 16_000, "preferred_sample_channels": 1})
    _extension, data = await tts.async_get_media_source_audio(hass, media_id)
    return wav_frames(data)


async def check(port: int, config_dir: str) -> None:
    Path(config_dir, "configuration.yaml").write_text(CONFIGURATION.format(http_port=free_port()))
    hass = await bootstrap.async_setup_hass(runner.RuntimeConfig(config_dir=config_dir))
    assert hass is not None, f"Home Assistant did not start: see {config_dir}/home-assistant.log"
    await hass.async_start()
    try:
        flow = await hass.config_entries.flow.async_init(
            "wyoming", context={"source": config_entries.SOURCE_USER}, data={"host": "127.0.0.1", "port": port})
        print(f"config flow: {flow['type']} {flow.get('title') or flow.get('reason') or flow.get('errors')}")
        await hass.async_block_till_done()
        entities = {domain: hass.states.async_entity_ids(domain) for domain in ("stt", "tts", "wake_word")}
        print(f"entities: {entities}")
        [stt_id], [tts_id], [wake_id] = entities["stt"], entities["tts"], entities["wake_word"]

        pipeline = await async_create_default_pipeline(hass, stt_engine_id=stt_id, tts_engine_id=tts_id,
                                                       pipeline_name="Rosey")
        assert pipeline is not None, "Home Assistant found no Rosey engine for its language"
        print(f"pipeline: stt {pipeline.stt_engine} ({pipeline.stt_language}), "
              f"tts {pipeline.tts_engine} ({pipeline.tts_language}, {pipeline.tts_voice})")
        await async_update_pipeline(hass, pipeline, wake_word_entity=wake_id, wake_word_id="hey_jarvis")

        question = (silence(0.5) + await spoken(hass, tts_id, "Hey Jarvis!") + silence(0.3)
                    + await spoken(hass, tts_id, "What time is it?") + silence(1.5))
        events = []
        began = time.perf_counter()
        await assist_pipeline.async_pipeline_from_audio_stream(
            hass, context=Context(), stt_metadata=SATELLITE, stt_stream=real_time(question),
            event_callback=lambda event: events.append((time.perf_counter() - began, event)),
            pipeline_id=pipeline.id, start_stage=PipelineStage.WAKE_WORD, end_stage=PipelineStage.TTS,
            tts_audio_output="wav")
        print(f"pipeline run on {len(question) / 32_000:.1f} s of speech sent in real time:")
        for at, event in events:
            if event.type in SHOWN:
                print(f"  {at * 1000:6.0f} ms  {event.type}: {event.data}")
        [answer] = [event.data["tts_output"]["media_id"] for _, event in events if event.type == PipelineEventType.TTS_END]
        extension, data = await tts.async_get_media_source_audio(hass, answer)
        print(f"  the answer's audio: {extension}, {len(wav_frames(data)) / 32_000:.2f} s")

        jfk = subprocess.run(["sox", str(JFK), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
                             check=True, capture_output=True).stdout
        entity = stt.async_get_speech_to_text_entity(hass, stt_id)
        result = await entity.internal_async_process_audio_stream(SATELLITE, real_time(jfk + silence(1.0)))
        print(f"stt entity on jfk.flac: {result.result.value}: {result.text!r}")
    finally:
        await hass.async_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rosey", default=str(ROOT / ".venv" / "bin" / "assistant"), help="the assistant command")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([args.rosey, "wyoming", "--uri", f"tcp://127.0.0.1:{port}", "--no-zeroconf"],
                              cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stderr:
            if "serving Home Assistant" in line:
                break
        config_dir = tempfile.mkdtemp(prefix="ha-check-")
        try:
            asyncio.run(check(port, config_dir))
        finally:
            shutil.rmtree(config_dir, ignore_errors=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
