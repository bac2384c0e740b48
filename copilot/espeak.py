"""Speech made with espeak-ng (and sox), for the tests, the benchmarks' generated sets and the experiments.

Not used by the copilot itself. Both programs come from Debian (`make system-deps`); a missing one raises
`FileNotFoundError` naming its package. Without dither the same arguments give the same bytes on every run; sox's
dither is random, unless sox is run with `SOX_OPTS=-R`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Literal

TRIM = ("silence", "1", "0.02", "0.5%")  # sox: drop the silence before the first sound above 0.5% of full scale


def _program(name: str) -> str:
    """The path of ``name`` on PATH, or a `FileNotFoundError` naming its Debian package."""
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is missing: install the Debian package {name}")
    return found


def speak(
    text: str,
    path: Path,
    *,
    voice: str = "en",
    pitch: int = 50,
    speed: int = 150,
    rate: int | None = None,
    volume: float | None = None,
    trim: Literal["start", "both"] | None = None,
    seconds: float | None = None,
    dither: bool = True,
) -> Path:
    """``text`` spoken by espeak-ng ``voice`` (a voice name or ``voice+variant``) at ``pitch`` (0-99) and ``speed``
    (words a minute) into the wav file ``path``, and returned.

    With ``rate`` None the file is espeak-ng's own (22.05 kHz, 16 bits). Otherwise sox converts it to ``rate`` Hz
    mono 16 bits, scaled by ``volume``, with the leading (``trim="start"``) or leading and trailing
    (``"both"``) silence removed, cut to its first ``seconds``, and dithered unless ``dither`` is False.
    """
    path = Path(path)
    raw = path if rate is None else path.with_name(f"{path.stem}.espeak.wav")
    subprocess.run([_program("espeak-ng"), "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(raw), text],
                   check=True)
    if rate is None:
        return path
    effects = {None: [], "start": [*TRIM], "both": [*TRIM, "reverse", *TRIM, "reverse"]}[trim]
    if seconds is not None:
        effects += ["trim", "0", f"{seconds:.2f}"]
    options = [*([] if dither else ["-D"]), *([] if volume is None else ["-v", str(volume)])]
    try:
        subprocess.run([_program("sox"), "-V1", *options, str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path),
                        *effects], check=True)
    finally:
        raw.unlink(missing_ok=True)
    return path
