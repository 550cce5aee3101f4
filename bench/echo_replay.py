"""The answer's echo and a person talking over it, replayed frame by frame through many rooms.

    .venv/bin/python bench/echo_replay.py      # needs espeak-ng and flite; ~4 minutes

Faster than real time and the same input for every setting, so the settings
the voice loop hears with (when the linear canceller calls the room learnt,
how long speech over the first echo is taken for the echo) compare within
one run. 120 replays: three Piper answers, 40 rooms (four seeds of five
delay/tail/level shapes, each also through a mildly distorting speaker, as
laptops at full volume are), a person in two of three (JFK, two espeak-ng
and two Flite voices, -6 to +3 dB against the echo, 0.8, 2 or 5 s into the
answer). Each setting is run on the same replays:

- self-interruptions: barge-ins where nobody spoke (goal 0);
- leaks: utterances where nobody spoke, and how many of them the loop takes
  for its own voice (``echo_suspect``);
- barge-ins on the person, by when they began talking, with how long after
  their first sound the run that stopped the answer began;
- people taken for the echo.

``audio.room.SimulatedRoom`` plays the same rooms in real time through the
whole loop (bench/room.py); this one isolates the ears.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for the test suite's speech material

import assistant.voice.ears as ears_module  # noqa: E402
import audio.doubletalk as doubletalk  # noqa: E402
from assistant.config import REPO_CONFIG, load_config  # noqa: E402
from assistant.voice.ears import Ears  # noqa: E402
from audio import FRAME_SAMPLES, SAMPLE_RATE, Endpointer, SpeechEnded, Synthesizer  # noqa: E402
from audio.aec import EchoCanceller, FarEnd  # noqa: E402
from audio.room import room_impulse_response  # noqa: E402
from audio.settings import AECSettings, VADSettings  # noqa: E402
from tests.audio.speech import JFK_PATH, espeak, flite, pink_noise, read_audio, spoken  # noqa: E402

ANSWERS = [
    "Paris is the capital of France. It sits on the river Seine, in the north of the country. Its museums hold "
    "some of the most famous paintings in the world. The city has been the largest in France for centuries.",
    "Sure. To boil an egg, put it in a pan of cold water, bring the water to the boil, then let it simmer for "
    "seven minutes. Cool it under the tap before you peel it.",
    "The weather tomorrow looks mild, with light rain in the morning and sunshine in the afternoon. "
    "Take an umbrella just in case.",
]
SHAPES = [(40, 300, 0), (20, 600, 6), (60, 150, -6), (5, 400, 3), (80, 400, -10)]
"""Direct path (ms), tail (ms), level (dB against what was played)."""
LEAD_S = 0.5
DISTORTION = 1.0
"""tanh(k x)/tanh(k) at the speaker: k = 1 puts the distortion 27 dB under the answer."""
SETTINGS = {
    "before (a barge-in run broken by frames of mostly echo)": dict(RUN_SPAN=1.0),
    "current": {},
    "a run within 2x its frames": dict(RUN_SPAN=2.0),
}


@dataclass
class Replay:
    answer: int
    room: dict[str, float]
    distorted: bool
    person: str | None
    person_at: float
    person_db: float


@dataclass
class Outcome:
    replay: Replay
    person_span: tuple[float, float] | None
    barge_ins: list[float]
    utterances: list[SpeechEnded]


def people() -> dict[str, np.ndarray]:
    return {
        "jfk": read_audio(JFK_PATH)[: round(2.3 * SAMPLE_RATE)],
        "espeak en-us+f3": espeak("Wait, stop, I have another question.", "en-us+f3"),
        "espeak en-gb": espeak("No no, tell me about the weather instead.", "en-gb"),
        "flite slt": flite("Hold on, what time is it now?", "slt"),
        "flite awb": flite("Stop talking please.", "awb"),
    }


def replays(voices: list[str]) -> list[Replay]:
    chosen = []
    index = 0
    for answer in range(len(ANSWERS)):
        for seed in range(4):
            for delay, tail, level in SHAPES:
                for distorted in (False, True):
                    room = dict(delay_ms=delay, tail_ms=tail, level_db=level, seed=seed)
                    person = [None, *voices][index % (len(voices) + 1)]
                    person_at, person_db = [0.8, 2.0, 5.0][index % 3], [0, -6, 0, 3][index % 4]
                    chosen.append(Replay(answer, room, distorted, person, person_at, person_db))
                    index += 1
    return chosen


def _loudness(pcm: np.ndarray) -> float:
    voiced = pcm[np.abs(pcm) > 1e-3]
    return float(np.sqrt(np.mean(voiced**2))) if voiced.size else 0.0


async def replay(case: Replay, answer: np.ndarray, voices: dict[str, np.ndarray]) -> Outcome:
    played = np.tanh(DISTORTION * answer) / np.tanh(DISTORTION) if case.distorted else answer
    echo = np.convolve(played, room_impulse_response(**case.room))
    lead = round(LEAD_S * SAMPLE_RATE)
    microphone = pink_noise((lead + len(echo)) / SAMPLE_RATE + 1.0, -50, case.room["seed"])
    microphone[lead : lead + len(echo)] += echo
    span = None
    if case.person is not None:
        voice = voices[case.person] * _loudness(echo) / _loudness(voices[case.person]) * 10 ** (case.person_db / 20)
        start = lead + round(case.person_at * SAMPLE_RATE)
        voice = voice[: len(microphone) - start]
        microphone[start : start + len(voice)] += voice
        sounding = np.flatnonzero(np.abs(voice) > 0.02 * np.abs(voice).max())
        span = ((start + sounding[0]) / SAMPLE_RATE, (start + sounding[-1]) / SAMPLE_RATE)
    far_end = FarEnd(origin=0.0)
    far_end.played(LEAD_S, answer, SAMPLE_RATE)
    ears = Ears(Endpointer(VADSettings()), far_end, EchoCanceller(AECSettings()), None, 0.5, 160)
    answer_end = LEAD_S + len(answer) / SAMPLE_RATE
    barge_ins: list[float] = []
    utterances: list[SpeechEnded] = []
    for index in range(len(microphone) // FRAME_SAMPLES):
        at = index * FRAME_SAMPLES / SAMPLE_RATE
        heard = await ears.hear(microphone[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES], at, at,
                                LEAD_S <= at < answer_end)
        utterances += [event for event in heard.events if isinstance(event, SpeechEnded)]
        if heard.barge_in_at is not None:
            barge_ins.append(heard.barge_in_at)
    utterances += [event for event in ears.flush() if isinstance(event, SpeechEnded)]
    return Outcome(case, span, barge_ins, utterances)


@contextmanager
def settings(values: dict[str, float]) -> Iterator[None]:
    owners = {"CONVERGED_DB": doubletalk, "CONVERGED_BLOCKS": doubletalk, "LEARNING_S": ears_module,
              "RUN_SPAN": ears_module, "JUDGE_PAUSES": ears_module}
    kept = {name: getattr(owners[name], name) for name in values}
    for name, value in values.items():
        setattr(owners[name], name, value)
    try:
        yield
    finally:
        for name, value in kept.items():
            setattr(owners[name], name, value)


def _by_person(outcome: Outcome, at: float, slack: float = 0.2) -> bool:
    span = outcome.person_span
    return span is not None and span[0] - slack <= at <= span[1] + 0.5


def report(name: str, outcomes: list[Outcome]) -> None:
    spurious = [[at for at in o.barge_ins if not _by_person(o, at)] for o in outcomes]
    leaks = [u for o in outcomes for u in o.utterances if not (o.person_span and u.start < o.person_span[1] + 0.5
                                                               and u.end > o.person_span[0] - 0.2)]
    persons = [u for o in outcomes for u in o.utterances if o.person_span and u.start < o.person_span[1] + 0.5
               and u.end > o.person_span[0] - 0.2]
    print(f"\n{name}")
    distorted = sum(len(s) for s, o in zip(spurious, outcomes) if o.replay.distorted)
    print(f"  self-interruptions: {sum(map(len, spurious))} in {sum(1 for s in spurious if s)} of {len(outcomes)}"
          f" replays (distorting speaker: {distorted})")
    for found, outcome in zip(spurious, outcomes):
        if found:
            print(f"    at {', '.join(f'{at:.2f}' for at in found)} s: {outcome.replay}")
    print(f"  leaks heard as utterances: {len(leaks)}, taken for its own voice: {sum(u.echo_suspect for u in leaks)}")
    print(f"  people's utterances taken for the echo: {sum(u.echo_suspect for u in persons)} of {len(persons)}")
    for at in (0.8, 2.0, 5.0):
        talking = [o for o in outcomes if o.person_span and o.replay.person_at == at]
        delays = [min(b for b in o.barge_ins if _by_person(o, b)) - o.person_span[0]
                  for o in talking if any(_by_person(o, b) for b in o.barge_ins)]
        median = ""
        if delays:
            tail = sorted(delays)[round(0.9 * (len(delays) - 1))]
            median = (f", run began {statistics.median(delays) * 1000:.0f} ms after their first sound (median; "
                      f"p90 {tail * 1000:.0f} ms)")
        print(f"  talking over from {at} s into the answer: barged in on {len(delays)} of {len(talking)}{median}")
    late = [o for o in outcomes if o.person_span and o.replay.person_at == 5.0]
    by_room = {}
    for o in late:
        shape = f"{o.replay.room['delay_ms']}/{o.replay.room['tail_ms']}/{o.replay.room['level_db']:+}"
        hits = by_room.setdefault(shape, [0, 0])
        hits[0] += any(_by_person(o, b) for b in o.barge_ins)
        hits[1] += 1
    print("  from 5 s, by room (ms/ms/dB):", ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in by_room.items()))


async def main() -> None:
    config = load_config(REPO_CONFIG)
    synthesizer = Synthesizer(config.audio_settings().tts)
    answers = [spoken(synthesizer, text) for text in ANSWERS]
    voices = people()
    cases = replays(list(voices))
    for name, values in SETTINGS.items():
        with settings(values):
            report(name, [await replay(case, answers[case.answer], voices) for case in cases])


if __name__ == "__main__":
    asyncio.run(main())
