"""Each optional backend loads a random-weight checkpoint that the test builds in its library's real format,
and runs through our tool on speech: openai-whisper, PANNs (panns-inference), pyannote.audio, speechbrain
and transformers.

Random weights say nothing about quality, so these tests check the plumbing: the checkpoint loads
offline through the backend, the tool returns its output model, and times stay inside the clip (or
the requested range). A library that is not installed fails the test with the extra to install.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from copilot import backends
from copilot.audio import SAMPLE_RATE, Audio, from_array, load
from copilot.errors import CopilotError
from tests import corpora

pytestmark = pytest.mark.slow


def need(extra: str) -> None:
    """Fail, naming the extra, when a backend's library is not installed (found without importing it:
    panns-inference's import would run wget)."""
    missing = [m for f in backends.FAMILIES.values() for b in f.backends if b.extra == extra for m in b.missing()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `make test`, or pip install 'speech-copilot[{extra}]'")


@pytest.fixture(autouse=True)
def default_backends():
    yield
    for family in backends.FAMILIES:
        backends.select(family, None)


def padded(audio: Audio, seconds: float = 0.6) -> Audio:
    gap = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    return from_array(np.concatenate([gap, audio.samples, gap]))


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Audio:
    """About 3.5 s of espeak speech with 0.6 s of silence at each end."""
    path = corpora.speak("The quick brown fox jumps over the lazy dog.", tmp_path_factory.mktemp("speech") / "fox.wav")
    return padded(load(path))


@pytest.fixture(scope="module")
def other_voice(tmp_path_factory) -> Audio:
    path = tmp_path_factory.mktemp("speech") / "f.wav"
    return padded(load(corpora.speak("It is raining in the garden again today.", path, voice="en+f3", pitch=70)))


def inside(segments, start: float, end: float) -> bool:
    """Whether every segment lies in ``start``-``end`` (tools round times to 0.01 s)."""
    return all(start - 0.005 <= s.start <= s.end <= end + 0.005 for s in segments)


# openai-whisper ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def whisper_checkpoint(tmp_path_factory) -> Path:
    """A multilingual Whisper with one tiny layer per side, saved as openai-whisper saves its models."""
    need("openai-whisper")
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=16, n_audio_head=2, n_audio_layer=1,
        n_vocab=51865, n_text_ctx=64, n_text_state=16, n_text_head=2, n_text_layer=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Whisper(dims)
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.02)  # Whisper leaves it torch.empty: garbage
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def test_openai_whisper_runs_the_asr_tool(whisper_checkpoint, speech):
    from copilot.tools.asr import LANGUAGES, AsrOutput, asr
    from copilot.tools.asr_backends import OpenAIWhisper

    backends.select("asr", f"openai-whisper:{whisper_checkpoint}")
    assert isinstance(backends.load("asr"), OpenAIWhisper)
    out = asr({"word_timestamps": True}, {"audio1": speech})
    assert isinstance(out, AsrOutput)
    assert out.language in LANGUAGES and 0 < out.language_probability <= 1
    assert inside(out.segments, 0, speech.duration) and inside(out.words, 0, speech.duration)
    assert all(0 <= w.probability <= 1 for w in out.words)


def test_openai_whisper_decodes_only_the_speech(whisper_checkpoint, speech):
    backends.select("asr", f"openai-whisper:{whisper_checkpoint}")
    model = backends.load("asr")
    segments, info = model.transcribe(speech.samples, word_timestamps=True)
    assert segments, "the random model still emits tokens"
    assert 2.0 < info.duration_after_vad < speech.duration and 0 < info.language_probability <= 1
    assert all(isinstance(t, int) for s in segments for t in s.tokens)
    assert all(0 <= s.start <= s.end for s in segments)  # the asr tool clamps overshooting ends to the clip
    silent, info = model.transcribe(np.zeros(3 * SAMPLE_RATE, np.float32))
    assert silent == [] and info.duration_after_vad == 0


def test_openai_whisper_language_id_and_ranges(whisper_checkpoint, speech):
    from copilot.tools.asr import LanguageIdOutput, asr, language_id

    backends.select("asr", f"openai-whisper:{whisper_checkpoint}")
    out = language_id({"top_k": 4}, {"audio1": speech})
    assert isinstance(out, LanguageIdOutput) and len(out.languages) == 4
    probabilities = [x.probability for x in out.languages]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.001
    assert 2.0 < out.speech_seconds < speech.duration
    part = asr({"start": 1.0, "end": 3.0, "language": "en"}, {"audio1": speech})
    assert part.language == "en" and part.language_probability is None
    assert inside(part.segments, 1.0, 3.0)
    quiet = asr({}, {"audio1": from_array(np.zeros(2 * SAMPLE_RATE, np.float32))})
    assert (quiet.text, quiet.language, quiet.segments) == ("", None, [])


def test_speech_stretches_end_inside_the_last_whole_frame(speech):
    from copilot.tools.asr_backends import FRAME, _speech

    cut = speech.samples[: int(2.5 * SAMPLE_RATE) + 77]  # speech running to the end, 77 samples into a frame
    chunks = _speech(cut)
    assert chunks and chunks[-1][1] == len(cut) // FRAME * FRAME  # past it, openai-whisper loops forever
    assert all(a % FRAME == 0 and b % FRAME == 0 and a < b for a, b in chunks)


# PANNs --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panns_checkpoint(tmp_path_factory) -> Path:
    """A random Cnn14 (32 kHz, 527 classes) saved as PANNs publishes it, with an AudioSet-style labels CSV beside it."""
    need("panns")
    import torch

    from copilot.tools.sound_events_backends import _models_module

    torch.manual_seed(0)
    model = _models_module().Cnn14(
        sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000, classes_num=527
    )
    folder = tmp_path_factory.mktemp("panns")
    path = folder / "Cnn14_mAP=0.431.pth"
    torch.save({"iteration": 0, "model": model.state_dict()}, path)
    with (folder / "class_labels_indices.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "mid", "display_name"])
        writer.writerows([i, f"/m/{i:05d}", "Speech" if i == 0 else f"Sound {i}"] for i in range(527))
    return path


def test_panns_runs_the_sound_events_tool_without_downloading(panns_checkpoint, speech, monkeypatch, tmp_path):
    from copilot.tools.sound_events import UNCOUNTED, SoundEventsOutput, Tagger, sound_events

    monkeypatch.setenv("HOME", str(tmp_path))  # panns-inference's own import would fetch into ~/panns_data
    backends.select("tags", f"panns:{panns_checkpoint}")
    tagger = backends.load("tags")
    assert isinstance(tagger, Tagger) and len(tagger.names) == 527 and (tagger.window, tagger.hop) == (2.0, 1.0)
    scores = tagger.scores(speech.samples)
    assert scores.shape == (1 + math.ceil((speech.duration - 2.0) / 1.0), 527)
    assert ((scores >= 0) & (scores <= 1)).all()
    out = sound_events({"top_k": 5, "threshold": 0.2}, {"audio1": speech})
    assert isinstance(out, SoundEventsOutput)
    assert all(len([x for x in listed if x.label not in UNCOUNTED]) <= 5 for listed in (out.sounds, out.background))
    assert "Speech" not in [x.label for x in out.background]
    assert inside(out.events, 0, speech.duration)
    ranged = sound_events({"start": 1.0, "end": 2.5, "threshold": 0.01}, {"audio1": speech})
    assert inside(ranged.events, 1.0, 2.5)
    assert not (tmp_path / "panns_data").exists()


def test_panns_needs_the_labels_csv(panns_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    lonely = tmp_path / "Cnn14.pth"
    lonely.symlink_to(panns_checkpoint)
    backends.select("tags", f"panns:{lonely}")
    with pytest.raises(CopilotError, match=r"needs AudioSet's class_labels_indices\.csv beside"):
        backends.load("tags")


# pyannote.audio ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pyannote_pipeline(tmp_path_factory) -> Path:
    """A folder laid out like speaker-diarization-community-1: config.yaml with $model/ sub-folders holding a
    PyanNet segmentation model, a WeSpeaker ResNet34 embedding model (Lightning checkpoints with pyannote's
    metadata) and a VBx PLDA. The segmentation's output bias favours "speaker 1 alone", so the random
    model finds one speaker wherever there is sound and the embedding and clustering steps run too."""
    import os

    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    need("pyannote")
    import lightning
    import torch
    import yaml

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*torchcodec")  # its decoder is not used: audio goes in memory
        from pyannote.audio.core.task import Problem, Resolution, Specifications
        from pyannote.audio.models.embedding import WeSpeakerResNet34
        from pyannote.audio.models.segmentation import PyanNet

    root = tmp_path_factory.mktemp("pyannote") / "speaker-diarization-random"

    def save(model, folder: str) -> None:
        checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
        checkpoint["pytorch-lightning_version"] = lightning.__version__
        model.on_save_checkpoint(checkpoint)  # adds pyannote's versions, architecture and specifications
        (root / folder).mkdir(parents=True)
        torch.save(checkpoint, root / folder / "pytorch_model.bin")

    torch.manual_seed(0)
    segmentation = PyanNet(lstm={"hidden_size": 16, "num_layers": 1}, linear={"hidden_size": 16, "num_layers": 1})
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=5.0,
        classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2, permutation_invariant=True,
    )  # fmt: skip
    segmentation.build()
    with torch.no_grad():
        segmentation.classifier.bias[1] += 10.0  # powerset class 1 = speaker#1 alone
    save(segmentation, "segmentation")
    embedding = WeSpeakerResNet34()
    embedding.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=3.0)
    save(embedding, "embedding")
    rng = np.random.default_rng(0)
    (root / "plda").mkdir()
    lda = np.linalg.qr(rng.normal(size=(256, 256)))[0][:, :128]
    np.savez(root / "plda" / "xvec_transform.npz", mean1=np.zeros(256), mean2=np.zeros(128), lda=lda)
    np.savez(root / "plda" / "plda.npz", mu=np.zeros(128), tr=np.eye(128), psi=np.linspace(5.0, 0.1, 128))
    config = {
        "dependencies": {"pyannote.audio": "4.0.0"},
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "segmentation": "$model/segmentation",
                "embedding": "$model/embedding",
                "plda": "$model/plda",
                "clustering": "VBxClustering",
                "embedding_exclude_overlap": True,
                "embedding_batch_size": 8,
                "segmentation_batch_size": 8,
            },
        },
        "params": {"clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8}, "segmentation": {"min_duration_off": 0.0}},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def test_pyannote_runs_the_diarization_tool(pyannote_pipeline, speech):
    from copilot.tools.diarization import DiarizationOutput, diarization

    backends.select("diarization", f"pyannote:{pyannote_pipeline}")
    out = diarization({}, {"audio1": speech})
    assert isinstance(out, DiarizationOutput)
    assert out.num_speakers == 1 and {t.speaker for t in out.turns} == {"S1"}
    assert inside(out.turns, 0, speech.duration) and out.turns
    assert out.speaking_time[0].duration == pytest.approx(sum(t.duration for t in out.turns), abs=0.02)
    ranged = diarization({"start": 1.0, "end": 4.0}, {"audio1": speech})
    assert ranged.turns and inside(ranged.turns, 1.0, 4.0)


def test_pyannote_accepts_the_config_file_and_explains_a_bad_folder(pyannote_pipeline, tmp_path):
    backends.select("diarization", f"pyannote:{pyannote_pipeline / 'config.yaml'}")
    assert callable(backends.load("diarization"))
    (tmp_path / "config.yaml").write_text("pipeline:\n  name: pyannote.audio.pipelines.NoSuchPipeline\n")
    backends.select("diarization", f"pyannote:{tmp_path}")
    with pytest.raises(CopilotError, match="pyannote could not load the pipeline at"):
        backends.load("diarization")


# speechbrain ------------------------------------------------------------------------------------------

HYPERPARAMS = """\
# a small ECAPA-TDNN laid out like speechbrain/spkrec-ecapa-voxceleb's hyperparams.yaml
n_mels: 40
pretrained_path: speechbrain/spkrec-ecapa-voxceleb
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [32, 32, 32, 32, 96]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 16
    lin_neurons: 24
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 24
    out_neurons: 3
mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


@pytest.fixture(scope="module")
def ecapa_folder(tmp_path_factory) -> Path:
    """An ECAPA speaker-encoder folder as speechbrain publishes it, with its hub path left in hyperparams.yaml."""
    need("speechbrain")
    import torch
    from speechbrain.dataio.encoder import CategoricalEncoder
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
    from speechbrain.processing.features import InputNormalization

    folder = tmp_path_factory.mktemp("spkrec-ecapa-random")
    (folder / "hyperparams.yaml").write_text(HYPERPARAMS)
    torch.manual_seed(0)
    encoder = ECAPA_TDNN(40, channels=[32, 32, 32, 32, 96], attention_channels=16, lin_neurons=24)
    torch.save(encoder.state_dict(), folder / "embedding_model.ckpt")
    torch.save(Classifier(24, out_neurons=3).state_dict(), folder / "classifier.ckpt")
    norm = InputNormalization(norm_type="global", std_norm=False)
    norm.count, norm.glob_mean, norm.glob_std = 1, torch.zeros(24), torch.ones(24)
    norm._save(folder / "mean_var_norm_emb.ckpt")
    labels = CategoricalEncoder()
    labels.update_from_iterable(["id10001", "id10002", "id10003"])
    labels.save(folder / "label_encoder.txt")
    return folder


def test_speechbrain_runs_speaker_verification(ecapa_folder, speech, other_voice, tmp_path, monkeypatch):
    from copilot.tools.speaker import SpeakerEncoder, VerificationOutput, speaker_verification
    from copilot.tools.speaker_backends import THRESHOLD

    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path))
    backends.select("speaker", f"speechbrain:{ecapa_folder}")
    encoder = backends.load("speaker")
    assert isinstance(encoder, SpeakerEncoder)
    vector = encoder.embed(speech.samples, "the clip")
    assert vector.shape == (24,) and np.linalg.norm(vector) == pytest.approx(1.0)
    out = speaker_verification({}, {"audio1": speech, "audio2": other_voice})
    assert isinstance(out, VerificationOutput)
    assert out.threshold == THRESHOLD and -1.0 <= out.score <= 1.0
    assert out.same_speaker == (out.score >= THRESHOLD)
    assert (tmp_path / "speechbrain").is_dir()  # speechbrain's links live in our cache, not in the user's folder


def test_speechbrain_accepts_the_hyperparams_file_and_needs_speech(ecapa_folder, speech, tmp_path, monkeypatch):
    from copilot.errors import ToolError

    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path))
    backends.select("speaker", f"speechbrain:{ecapa_folder / 'hyperparams.yaml'}")
    with pytest.raises(ToolError, match="at least 1 s is needed"):
        backends.load("speaker").embed(speech.samples[:8000], "a short clip")


# transformers -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emotion_model(tmp_path_factory) -> Path:
    """A tiny wav2vec2 audio classifier with IEMOCAP-style labels, saved with save_pretrained."""
    need("transformers")
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    labels = ["neu", "hap", "ang", "sad"]
    config = Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=8, vocab_size=8,
        id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)},
    )  # fmt: skip
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("emotion") / "ser-random"
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder


def test_transformers_runs_the_emotion_tool(emotion_model, speech):
    from copilot.tools.emotion import EmotionOutput, emotion

    backends.select("emotion", f"transformers:{emotion_model}")
    out = emotion({}, {"audio1": speech})
    assert isinstance(out, EmotionOutput) and out.prosody is None
    assert {s.label for s in out.scores} == {"neutral", "happy", "angry", "sad"}
    probabilities = [s.probability for s in out.scores]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1, abs=0.01)
    assert (out.label, out.confidence) == (out.scores[0].label, probabilities[0])
    assert out.findings().labels == [s.label for s in out.scores] and out.backend == "transformers:ser-random"  # a ranking
    ranged = emotion({"start": 1.0, "end": 2.0}, {"audio1": speech})
    assert len(ranged.scores) == 4


def test_every_torch_backend_leaves_torch_on_one_thread(whisper_checkpoint, panns_checkpoint, pyannote_pipeline,
                                                        ecapa_folder, emotion_model, monkeypatch, tmp_path):
    """A torch thread pool beside llama.cpp's slows the embedded LLM down (see `backends.import_torch`)."""
    import torch

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path))
    monkeypatch.setattr(backends, "_loaded", {})  # load each afresh, whatever the tests before it loaded
    for family, spec in [
        ("asr", f"openai-whisper:{whisper_checkpoint}"), ("tags", f"panns:{panns_checkpoint}"),
        ("diarization", f"pyannote:{pyannote_pipeline}"), ("speaker", f"speechbrain:{ecapa_folder}"),
        ("emotion", f"transformers:{emotion_model}"),
    ]:
        torch.set_num_threads(2)
        backends.select(family, spec)
        backends.load(family)
        assert torch.get_num_threads() == 1, spec
