// Live training curves with uPlot: loss (total) per step, and CPC accuracy per prediction step k.
// New rows are appended to plain arrays and the chart is redrawn at most once per animation frame,
// so a burst of metrics costs one redraw.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricsRow } from './protocol.ts';

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#7c3aed', '#0d9488'];

abstract class LiveChart {
  protected plot: uPlot | null = null;
  protected x: number[] = [];
  private pending = false;
  private readonly resize: ResizeObserver;

  constructor(protected readonly host: HTMLElement) {
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(host);
  }

  protected size(): { width: number; height: number } {
    return { width: Math.max(240, this.host.clientWidth), height: 220 };
  }

  protected abstract data(): uPlot.AlignedData;

  protected redrawSoon(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot?.setData(this.data());
    });
  }
}

export class LossChart extends LiveChart {
  private loss: number[] = [];

  constructor(host: HTMLElement) {
    super(host);
    this.plot = new uPlot({
      ...this.size(),
      title: 'InfoNCE loss',
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, { label: 'loss' }],
      series: [{ label: 'step' }, { label: 'loss', stroke: PALETTE[0], width: 2, value: (_u, v) => (v == null ? '–' : v.toFixed(4)) }],
    }, this.data(), host);
  }

  protected data(): uPlot.AlignedData {
    return [this.x, this.loss];
  }

  push(rows: readonly MetricsRow[]): void {
    for (const r of rows) {
      this.x.push(r.step);
      this.loss.push(r.loss);
    }
    this.redrawSoon();
  }

  clear(): void {
    this.x = [];
    this.loss = [];
    this.redrawSoon();
  }
}

export class AccuracyChart extends LiveChart {
  private acc: number[][] = [];
  private K = 0;

  constructor(host: HTMLElement) {
    super(host);
    this.rebuild(1);
  }

  private rebuild(K: number): void {
    this.plot?.destroy();
    this.K = K;
    this.acc = Array.from({ length: K }, () => []);
    this.x = [];
    const series: uPlot.Series[] = [{ label: 'step' }];
    for (let k = 0; k < K; k++) {
      series.push({ label: `k=${k + 1}`, stroke: PALETTE[k % PALETTE.length], width: 1.5, value: (_u, v) => (v == null ? '–' : `${(v * 100).toFixed(1)} %`) });
    }
    this.plot = new uPlot({
      ...this.size(),
      title: 'CPC accuracy per prediction step k',
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ label: 'step' }, { label: 'accuracy', values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) }],
      series,
    }, this.data(), this.host);
  }

  protected data(): uPlot.AlignedData {
    return [this.x, ...this.acc];
  }

  push(rows: readonly MetricsRow[]): void {
    for (const r of rows) {
      if (r.accPerK.length !== this.K) this.rebuild(r.accPerK.length);
      this.x.push(r.step);
      r.accPerK.forEach((a, k) => this.acc[k]!.push(a));
    }
    this.redrawSoon();
  }

  clear(K: number): void {
    this.rebuild(K);
  }
}
