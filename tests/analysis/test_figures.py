import subprocess
import sys

import numpy as np

from pitchprobe.analysis.figures import label_times
from pitchprobe.probe.predictions import PredictionWriter


def test_contour_times_come_from_the_stored_label_geometry(tmp_path):
    path = tmp_path / "x.predictions.parquet"
    w = PredictionWriter(path, {"labels": {"first_centre_samples": 280, "hop_samples": 160}})
    w.add("u", np.arange(3), np.array([100.0, 0.0, 110.0]), np.zeros((1, 3, 6)))
    w.close(True)
    np.testing.assert_allclose(label_times(path, np.array([0, 1, 10])), (280 + 160 * np.array([0, 1, 10])) / 16000)


def test_importing_the_package_changes_no_global_state():
    code = (
        "import matplotlib, torch\n"
        "backend, rc = matplotlib.get_backend(), dict(matplotlib.rcParams)\n"
        "torch.manual_seed(123); state = torch.get_rng_state()\n"
        "import pitchprobe.analysis.report, pitchprobe.cli.main, pitchprobe.study.run\n"
        "from pitchprobe.models.hf import HFBackend\n"
        "assert matplotlib.get_backend() == backend, 'backend changed'\n"
        "assert dict(matplotlib.rcParams) == rc, 'rcParams changed'\n"
        "assert torch.equal(torch.get_rng_state(), state), 'torch RNG changed'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
