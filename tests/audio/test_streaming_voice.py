"""The bundled Piper voice cut at its decoder: a sentence sounds before all of it is computed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from piper import SynthesisConfig

from audio.models import piper_voice_path
from audio.settings import TTSSettings
from audio.streaming_voice import CONTEXT_FRAMES, FIRST_SLICE_FRAMES, StreamingVoice, _match_db, _model_inputs
from audio.stt import Transcriber
from audio.tts import Synthesizer
from tests.wer import word_error_rate

LONG_SENTENCE = "I found three restaurants near you, and the closest one stays open until ten tonight."


@pytest.fixture(scope="module")
def voice() -> StreamingVoice:
    return StreamingVoice.load(piper_voice_path())


def test_the_slices_of_a_sentence_add_up_to_its_whole_decoding(voice: StreamingVoice) -> None:
    assert voice.streams
    halves = voice._halves
    assert halves is not None
    ids = voice.voice.phonemes_to_ids(voice.voice.phonemize(LONG_SENTENCE)[0])
    encoded = halves.encode(_model_inputs(voice.voice, ids, SynthesisConfig()))
    slices = list(halves.decode_in_slices(encoded))
    hop = voice.voice.config.hop_length
    assert len(slices) >= 4
    assert [len(piece) for piece in slices[:3]] == [FIRST_SLICE_FRAMES * hop * 2**n for n in range(3)]
    assert encoded[0].shape[-1] > 7 * FIRST_SLICE_FRAMES + 2 * CONTEXT_FRAMES  # middle slices have both sides
    assert _match_db(halves.decode(encoded), np.concatenate(slices)) > 100


def test_sentences_come_out_at_one_level_without_clipping(voice: StreamingVoice) -> None:
    sentences = ["Okay.", "Wow, that is amazing!", LONG_SENTENCE, "No.", "What would you like to hear next?"]
    spoken = [np.concatenate(list(voice.sentence_audio(text, SynthesisConfig(), in_slices=True))) for text in sentences]
    peaks = [float(np.max(np.abs(pcm))) for pcm in spoken]
    assert all(0.5 < peak <= 1.0 for peak in peaks), peaks
    everything = np.concatenate(spoken)
    assert np.mean(np.abs(everything) >= 1.0) < 1e-3


def test_the_volume_setting_scales_the_streamed_speech(voice: StreamingVoice) -> None:
    loud = np.concatenate(list(voice.sentence_audio(LONG_SENTENCE, SynthesisConfig(volume=1.0), in_slices=True)))
    quiet = np.concatenate(list(voice.sentence_audio(LONG_SENTENCE, SynthesisConfig(volume=0.25), in_slices=True)))
    assert np.max(np.abs(quiet)) < 0.3 < np.max(np.abs(loud))


def test_a_voice_whose_graph_does_not_cut_speaks_whole_sentences(tmp_path: Path, transcriber: Transcriber) -> None:
    bundled = piper_voice_path()
    model = onnx.load(str(bundled))
    for node in model.graph.node:  # an export that names its nodes otherwise
        node.name = node.name.replace("/dec/", "/generator/")
    renamed = tmp_path / "renamed.onnx"
    onnx.save(model, str(renamed))
    shutil.copy(bundled.with_name(bundled.name + ".json"), tmp_path / "renamed.onnx.json")

    synthesizer = Synthesizer(TTSSettings(voice=renamed, sentence_silence=0))
    try:
        chunks = list(synthesizer.synthesize(LONG_SENTENCE))
        assert not synthesizer._load().streams
        assert len(chunks) == 1 and chunks[0].text == LONG_SENTENCE
        wav = tmp_path / "said.wav"
        synthesizer.write_wav(LONG_SENTENCE, wav)
    finally:
        synthesizer.close()
    assert word_error_rate(LONG_SENTENCE, transcriber.transcribe_file(wav).text) <= 0.2
