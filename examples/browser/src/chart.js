// The live loss curve: uPlot (a ~50 KB canvas chart library with no dependencies), one point per training step.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** A loss-per-step chart in `el`; `push(step, loss)` adds a point, `reset()` clears it for a new run. */
export function lossChart(el) {
  let data = [[], []];
  const plot = new uPlot(
    {
      width: Math.max(320, el.clientWidth),
      height: 240,
      scales: { x: { time: false } },
      series: [{ label: 'step' }, { label: 'training loss', stroke: '#c0392b', width: 2, points: { show: false } }],
      axes: [{ label: 'step', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] }, { label: 'loss (nats/token)' }],
    },
    data,
    el,
  );
  // one redraw per animation frame however fast the steps come
  let pending = false;
  const draw = () => {
    pending = false;
    plot.setData(data);
  };
  return {
    push(step, loss) {
      data[0].push(step);
      data[1].push(loss);
      if (!pending) (pending = true), requestAnimationFrame(draw);
    },
    reset() {
      data = [[], []];
      plot.setData(data);
    },
  };
}
