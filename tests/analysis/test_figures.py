import subprocess
import sys


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
