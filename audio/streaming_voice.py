"""A Piper voice that starts sounding before its sentence is fully computed.

A Piper (VITS) voice is one ONNX graph: the text encoder, duration predictor
and flow turn a sentence into latent frames (one per ``hop_length`` samples),
then a convolutional decoder turns those frames into audio. The decoder takes
most of the time and sees only a few frames either side, so the graph is cut
in two at the decoder's input and the decoder runs on slices of the frames
with ``CONTEXT_FRAMES`` of context each side: the same samples within float
rounding, and the first slice's audio is ready after the encoder and a small
part of the decoder instead of after the whole pass.

Piper scales every sentence to a peak of 1.0, which needs the whole sentence.
A slice cannot wait for that, so the level is one gain per voice, set from
the loudest sentence heard so far; sentences come out at one loudness instead
of each at its own peak.

A voice whose graph cannot be cut (no ``/dec/`` nodes, an export that names
its nodes otherwise, or slices that do not match the whole pass) is spoken
a sentence at a time, as Piper itself does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from piper import PiperVoice, SynthesisConfig

FIRST_SLICE_FRAMES = 16
"""About 0.19 s of audio at Piper's 22 kHz and 256 samples a frame: short, so it is ready early
(with its context, a quarter of a short sentence's decoding), and long enough to play while the
next slice, twice as long, is decoded (in about a quarter of its playing time)."""

CONTEXT_FRAMES = 12
"""Frames decoded on each side of a slice and cut off again: the bundled voice's decoder sees
no further, so the slices equal the whole decoding to float rounding (over 110 dB; 8 frames left
56-65 dB on eleven sentences)."""

MATCH_DB = 60.0
"""How closely the sliced decoding must match the whole one on the check sentence for a voice to
stream: a difference 60 dB under the voice cannot be heard over it."""

TARGET_PEAK = 0.95
"""The loudest sentence so far peaks here, a little under full scale, like Piper's own normalizing."""

_CHECK_SENTENCE = "Well, here is the answer you asked for, and a little more!"

_log = logging.getLogger(__name__)


class StreamingVoice:
    """Piper's phonemizer and voice config, with the graph cut at the decoder when it can be."""

    def __init__(self, voice: PiperVoice, halves: _Halves | None, loudest: float = 0.0) -> None:
        self.voice = voice
        self._halves = halves
        self._loudest = loudest

    @property
    def streams(self) -> bool:
        """Whether a sentence comes out in slices (otherwise whole, as Piper does)."""
        return self._halves is not None

    @classmethod
    def load(cls, model_path: Path) -> StreamingVoice:
        """Load the voice and cut it; a voice that cannot be cut still loads and speaks whole sentences."""
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        config = PiperConfig.from_dict(json.loads(_config_path(model_path).read_text(encoding="utf-8")))
        halves = _Halves.cut(model_path, config.hop_length)
        voice = PiperVoice(session=None, config=config)  # the whole graph's session only if it is needed
        loudest = _check_slices(voice, halves) if halves is not None else None
        if loudest is None:
            voice.session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
            return cls(voice, None)
        return cls(voice, halves, loudest)

    def sentence_audio(
        self, sentence: str, config: SynthesisConfig, *, in_slices: bool = False
    ) -> Iterator[np.ndarray]:
        """Float32 audio of one sentence, with the volume applied: ``in_slices``, a slice at a time
        when the voice streams; otherwise decoded in one pass (slices' context would be work for nothing)."""
        if self._halves is None:
            for piece in self.voice.synthesize(sentence, syn_config=config):
                yield piece.audio_float_array.astype(np.float32, copy=False)
            return
        for phonemes in self.voice.phonemize(sentence):
            if not phonemes:
                continue
            inputs = _model_inputs(self.voice, self.voice.phonemes_to_ids(phonemes), config)
            encoded = self._halves.encode(inputs)
            gain: float | None = None
            for raw in self._halves.decode_in_slices(encoded) if in_slices else [self._halves.decode(encoded)]:
                peak = float(np.max(np.abs(raw)))
                if gain is None:
                    gain = TARGET_PEAK / max(self._loudest, peak, 1e-3) * config.volume
                self._loudest = max(self._loudest, peak)
                yield np.clip(raw * gain, -1.0, 1.0).astype(np.float32, copy=False)


class _Halves:
    """The voice's graph as two onnxruntime sessions: up to the decoder's inputs, and the decoder.

    The decoder's first input is the latent frames, sliced; any other (a speaker
    embedding) is passed whole.
    """

    def __init__(self, encoder: Any, decoder: Any, boundary: list[str], hop: int) -> None:
        self._encoder = encoder
        self._decoder = decoder
        self._boundary = boundary
        self._hop = hop

    @classmethod
    def cut(cls, model_path: Path, hop: int) -> _Halves | None:
        import onnx
        import onnxruntime
        from onnx.utils import Extractor

        model = onnx.load(str(model_path))
        graph = model.graph
        decoder_nodes = [node for node in graph.node if node.name.startswith("/dec/")]
        weights = {tensor.name for tensor in graph.initializer}
        made_inside = {name for node in decoder_nodes for name in node.output}
        entering = {name for node in decoder_nodes for name in node.input if name} - made_inside - weights
        latent = decoder_nodes[0].input[0] if decoder_nodes else ""
        if latent not in entering:
            _log.info("%s: no decoder input found in the graph; speaking whole sentences", model_path)
            return None
        boundary = [latent, *sorted(entering - {latent})]
        extractor = Extractor(model)
        try:
            halves = [
                extractor.extract_model([tensor.name for tensor in graph.input], boundary),
                extractor.extract_model(boundary, [graph.output[0].name]),
            ]
            encoder, decoder = (
                onnxruntime.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"])
                for half in halves
            )
        except Exception as exc:  # noqa: BLE001 - onnx and onnxruntime raise bare Exception subclasses
            _log.info("%s: the graph does not cut at the decoder (%s); speaking whole sentences", model_path, exc)
            return None
        return cls(encoder, decoder, boundary, hop)

    def encode(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The decoder's inputs for one sentence: its latent frames first."""
        return self._encoder.run(None, inputs)

    def decode(self, encoded: list[np.ndarray], latent: np.ndarray | None = None) -> np.ndarray:
        """Audio for ``latent`` (default: all the sentence's frames)."""
        feeds = dict(zip(self._boundary, encoded, strict=True))
        if latent is not None:
            feeds[self._boundary[0]] = latent
        return self._decoder.run(None, feeds)[0].reshape(-1)

    def decode_in_slices(self, encoded: list[np.ndarray]) -> Iterator[np.ndarray]:
        """The decoder's audio, a growing slice at a time, each with context frames either side."""
        latent = encoded[0]
        frames = latent.shape[-1]
        start, size = 0, FIRST_SLICE_FRAMES
        while start < frames:
            end = frames if frames - (start + size) < FIRST_SLICE_FRAMES else start + size
            left = min(start, CONTEXT_FRAMES)
            audio = self.decode(encoded, latent[..., start - left : min(frames, end + CONTEXT_FRAMES)])
            yield audio[left * self._hop : (left + end - start) * self._hop]
            start, size = end, size * 2


def _check_slices(voice: PiperVoice, halves: _Halves) -> float | None:
    """The check sentence's raw peak, or None when its slices do not add up to its whole decoding."""
    from piper import SynthesisConfig

    ids = voice.phonemes_to_ids(voice.phonemize(_CHECK_SENTENCE)[0])
    encoded = halves.encode(_model_inputs(voice, ids, SynthesisConfig()))
    whole = halves.decode(encoded)
    match = _match_db(whole, np.concatenate(list(halves.decode_in_slices(encoded))))
    if match < MATCH_DB:
        _log.info("sliced decoding is %.0f dB from the whole; speaking whole sentences", match)
        return None
    return float(np.max(np.abs(whole)))


def _model_inputs(voice: PiperVoice, phoneme_ids: list[int], config: SynthesisConfig) -> dict[str, np.ndarray]:
    """The graph's inputs as Piper's ``phoneme_ids_to_audio`` builds them."""
    piper_config = voice.config
    scales = [
        piper_config.noise_scale if config.noise_scale is None else config.noise_scale,
        piper_config.length_scale if config.length_scale is None else config.length_scale,
        piper_config.noise_w_scale if config.noise_w_scale is None else config.noise_w_scale,
    ]
    inputs = {
        "input": np.array([phoneme_ids], dtype=np.int64),
        "input_lengths": np.array([len(phoneme_ids)], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
    }
    if piper_config.num_speakers > 1:
        speaker = piper_config.default_speaker_id if config.speaker_id is None else config.speaker_id
        inputs["sid"] = np.array([speaker], dtype=np.int64)
    return inputs


def _config_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + ".json")


def _match_db(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Signal-to-difference ratio of two renderings of the same audio; lengths must agree."""
    if reference.shape != candidate.shape:
        return float("-inf")
    difference = float(np.sum((reference - candidate) ** 2))
    return float("inf") if difference == 0 else 10 * np.log10(float(np.sum(reference**2)) / difference)
