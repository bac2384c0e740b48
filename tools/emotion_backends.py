"""The transformers emotion backend: a speech-emotion model folder the user already has.

Any ``AutoModelForAudioClassification`` folder works (``config.json`` with ``id2label``, the weights,
``preprocessor_config.json``), e.g. a wav2vec2 or HuBERT model fine-tuned on IEMOCAP, RAVDESS or
CREMA-D. It is loaded with ``local_files_only``, so nothing is fetched. The model's own labels are
kept, with common abbreviations spelt out (``ang`` -> angry) so they match answer options.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from copilot import backends
from copilot.audio import SAMPLE_RATE, Audio
from copilot.errors import ToolError
from copilot.tools.emotion import EmotionModel, EmotionOutput, EmotionScore

MIN_SAMPLES = SAMPLE_RATE // 10
NAMES = {
    "ang": "angry", "anger": "angry", "hap": "happy", "happiness": "happy", "joy": "happy", "sadness": "sad",
    "neu": "neutral", "fea": "fear", "fearful": "fear", "dis": "disgust", "disgusted": "disgust",
    "sur": "surprise", "surprised": "surprise", "exc": "excited", "fru": "frustrated", "cal": "calm",
}  # fmt: skip


def canonical(label: str) -> str:
    """A model's label in the words answer options use (``ANG`` and ``anger`` become ``angry``)."""
    key = label.strip().lower()
    return NAMES.get(key, key)


def load_transformers(path: Path) -> EmotionModel:
    """The ``transformers:PATH`` backend: an audio-classification model folder, run on the whole range
    (such models are trained on utterances with their pauses)."""
    torch = backends.import_torch()

    transformers = backends.import_library("transformers", "transformers")
    transformers.utils.logging.disable_progress_bar()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModelForAudioClassification.from_pretrained(path, local_files_only=True).eval()
    rate = getattr(extractor, "sampling_rate", SAMPLE_RATE)
    multi_label = model.config.problem_type == "multi_label_classification"
    labels = [canonical(model.config.id2label[i]) for i in range(model.config.num_labels)]

    def classify(audio: Audio) -> EmotionOutput:
        import librosa

        samples = audio.samples
        if len(samples) < MIN_SAMPLES:
            raise ToolError(f"the range is {audio.duration:.2f} s long: the emotion model needs at least 0.1 s")
        if rate != SAMPLE_RATE:
            samples = librosa.resample(samples, orig_sr=SAMPLE_RATE, target_sr=rate)
        inputs = extractor(samples, sampling_rate=rate, return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits[0].double()
        probs = (logits.sigmoid() if multi_label else logits.softmax(-1)).numpy()
        order = np.argsort(-probs, kind="stable")
        scores = [EmotionScore(label=labels[i], probability=round(float(probs[i]), 3)) for i in order]
        return EmotionOutput(
            label=scores[0].label, confidence=scores[0].probability, scores=scores, backend=f"transformers:{path.name}"
        )

    return classify
