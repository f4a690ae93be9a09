from __future__ import annotations

import pytest

from lia_dask.errors import InputError
from lia_dask.simulate import SimulationConfig
from lia_dask.simulate.plots import plot_simulated
from lia_dask.simulate.simulate import simulate_batch


def test_plot_simulated_writes_a_figure(ogle_pool, tmp_path):
    pytest.importorskip("matplotlib")
    b = simulate_batch(ogle_pool, 4, SimulationConfig(seed=1))
    fig = plot_simulated(b, 2, path=tmp_path / "sim.png")
    assert (tmp_path / "sim.png").stat().st_size > 10_000
    assert len(fig.axes) == 10
    titles = [ax.get_title() for ax in fig.axes]
    assert sum(t.startswith("ML") and "tE=" in t for t in titles) == 2
    unlabeled = b.take([0])
    object.__setattr__(unlabeled, "label", None)
    with pytest.raises(InputError, match="label column"):
        plot_simulated(unlabeled)
