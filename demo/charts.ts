// Live training curves with uPlot: loss (total) per step, and CPC accuracy per prediction step k.
// New rows are appended to plain arrays and the chart is redrawn at most once per animation frame,
// so a burst of metrics costs one redraw.
//
// What a visitor must be able to read from the first step on: both charts draw axes before any
// data (a placeholder x range and a chance-level y range), a dashed chance line (ln N on the loss,
// 1/N on the accuracy, N = candidates per prediction: B for batch negatives), tick labels with as
// many decimals as the range needs, legends that show the latest values when the pointer is not on
// the chart, and once there are many steps a smoothed curve over the faded raw one. Each chart
// keeps a visually hidden table of its latest values next to it: the text alternative of the canvas.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricsRow } from './protocol.ts';
import { tickLabels } from './ticks.ts';

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#7c3aed', '#0d9488'];
const CHANCE_COLOR = '#6b7280';
/** From this many points on, the smoothed curve is drawn over the raw one (before, the raw one is readable). */
export const SMOOTH_FROM = 30;
/** EMA weight of the smoothed curve; bias-corrected, so its first values are not pulled to 0. */
const EMA_BETA = 0.9;
/** Steps shown on the x axis before there are that many: the axis does not rescale at every step early on. */
const MIN_X_SPAN = 10;
/** Integer step increments only: a step axis never shows 0.5. */
const STEP_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1e6];

/** What a chart shows, for tests (window.__cpcDemo.charts()). */
export interface ChartReport {
  title: string;
  points: number;
  xTicks: string[];
  yTicks: string[];
  /** Legend rows as rendered: label and value text. */
  legend: { label: string; value: string }[];
  chance: number | null;
  /** Fraction of sampled canvas pixels along the chance line that have its colour (dashes leave gaps). */
  chanceInk: number;
  smoothed: boolean;
}

/** Bias-corrected exponential moving average (as TensorBoard's smoothing). */
function ema(values: readonly number[]): number[] {
  const out: number[] = [];
  let m = 0;
  let w = 0;
  for (const v of values) {
    m = EMA_BETA * m + (1 - EMA_BETA) * v;
    w = EMA_BETA * w + (1 - EMA_BETA);
    out.push(m / w);
  }
  return out;
}

function faded(hex: string): string {
  return `${hex}55`;
}

interface CurveSpec {
  label: string;
  color: string;
  format: (v: number) => string;
}

abstract class LiveChart {
  protected plot: uPlot;
  protected x: number[] = [];
  /** Raw values per curve, parallel to x. */
  protected ys: number[][] = [];
  /** Smoothed curves as last drawn (empty until SMOOTH_FROM points). */
  private smoothed: number[][] = [];
  protected chance: number | null = null;
  private pending = false;
  private readonly resize: ResizeObserver;
  private readonly table: HTMLTableElement;
  /** Tick labels last drawn (uPlot renders them into the canvas). */
  private ticks: { x: string[]; y: string[] } = { x: [], y: [] };
  private smoothOn = false;

  protected constructor(
    protected readonly host: HTMLElement,
    private readonly title: string,
    private readonly yLabel: string,
    private curves: CurveSpec[],
  ) {
    this.table = document.createElement('table');
    this.table.className = 'sr-only';
    host.after(this.table);
    // The canvas is described by the table; the chart's own legend would be read twice.
    host.setAttribute('aria-hidden', 'true');
    this.plot = this.build();
    this.resize = new ResizeObserver(() => this.plot.setSize(this.size()));
    this.resize.observe(host);
    this.renderTable();
  }

  protected abstract yRange(min: number | null, max: number | null): [number, number];
  protected abstract yTick(ticks: number[], incr: number): string[];
  protected abstract chanceLabel(v: number): string;

  protected size(): { width: number; height: number } {
    return { width: Math.max(240, this.host.clientWidth), height: 220 };
  }

  /** (Re)creates the plot: raw series, then smoothed ones (hidden until SMOOTH_FROM points), then chance. */
  protected build(): uPlot {
    const series: uPlot.Series[] = [{ label: 'step', value: (_u, v, _s, idx) => (idx == null ? this.latestStep() : v == null ? '–' : String(v)) }];
    const legendValue = (fmt: (v: number) => string, values: () => readonly number[]) =>
      (_u: uPlot, v: number | null, _s: number, idx: number | null) => {
        if (idx != null) return v == null ? '–' : fmt(v);
        const all = values();
        return all.length ? fmt(all[all.length - 1]!) : '–';
      };
    this.curves.forEach((c, i) => {
      series.push({ label: c.label, stroke: c.color, width: 1.5, value: legendValue(c.format, () => this.ys[i] ?? []) });
    });
    this.curves.forEach((c, i) => {
      series.push({ label: `${c.label} (smoothed)`, stroke: c.color, width: 2.5, show: false, value: legendValue(c.format, () => this.smoothed[i] ?? []) });
    });
    series.push({
      label: 'chance', stroke: CHANCE_COLOR, width: 1.5, dash: [6, 5], points: { show: false },
      value: (_u, v) => (v == null && this.chance === null ? '–' : this.chanceLabel(v ?? this.chance!)),
    });
    const plot = new uPlot({
      ...this.size(),
      title: this.title,
      scales: {
        x: { time: false, range: (_u, min, max) => [Math.min(min ?? 0, 0), Math.max(max ?? MIN_X_SPAN, MIN_X_SPAN)] },
        y: { range: (_u, min, max) => this.yRange(Number.isFinite(min) ? min : null, Number.isFinite(max) ? max : null) },
      },
      axes: [
        { label: 'step', incrs: STEP_INCRS, values: (_u, t, _a, _s, incr) => (this.ticks.x = tickLabels(t, incr)) },
        { label: this.yLabel, size: 60, values: (_u, t, _a, _s, incr) => (this.ticks.y = this.yTick(t, incr)) },
      ],
      series,
    }, this.data(), this.host);
    // The smoothed curves share their raw curve's legend row (the hidden table lists both values).
    const rows = plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
    for (let i = 0; i < this.curves.length; i++) rows[1 + this.curves.length + i]?.style.setProperty('display', 'none');
    this.smoothOn = false;
    return plot;
  }

  private latestStep(): string {
    return this.x.length ? String(this.x[this.x.length - 1]) : '–';
  }

  /** x, raw curves, smoothed curves (empty until SMOOTH_FROM) and the chance level; a placeholder x range before data. */
  protected data(): uPlot.AlignedData {
    const n = this.x.length;
    const x = n ? this.x : [0, MIN_X_SPAN];
    const blank = x.map(() => null);
    this.smoothed = n >= SMOOTH_FROM ? this.curves.map((_c, i) => ema(this.ys[i]!)) : [];
    return [
      x,
      ...this.curves.map((_c, i) => (n ? this.ys[i]! : blank)),
      ...this.curves.map((_c, i) => this.smoothed[i] ?? blank),
      x.map(() => this.chance),
    ] as uPlot.AlignedData;
  }

  protected redrawSoon(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.redraw();
    });
  }

  private redraw(): void {
    const smooth = this.x.length >= SMOOTH_FROM;
    if (smooth !== this.smoothOn) {
      this.smoothOn = smooth;
      // Raw curves fade and thin under the smoothed ones (series i + 1, smoothed at i + 1 + K).
      const K = this.curves.length;
      this.curves.forEach((c, i) => {
        const raw = this.plot.series[i + 1]!;
        raw.stroke = () => (smooth ? faded(c.color) : c.color);
        raw.width = smooth ? 1 : 1.5;
        this.plot.setSeries(i + 1 + K, { show: smooth });
      });
    }
    this.plot.setData(this.data());
    // Not hovering: the value functions get idx null and show the latest values.
    this.plot.setLegend({}, false);
    this.renderTable();
  }

  protected setCurves(curves: CurveSpec[]): void {
    this.plot.destroy();
    this.curves = curves;
    this.ys = curves.map(() => []);
    this.x = [];
    this.plot = this.build();
    this.renderTable();
  }

  setChance(v: number | null): void {
    this.chance = v;
    this.redrawSoon();
  }

  protected clearData(): void {
    this.x = [];
    this.ys = this.curves.map(() => []);
    this.redrawSoon();
  }

  private renderTable(): void {
    const cell = (tag: 'th' | 'td', text: string, scope?: string) => {
      const c = document.createElement(tag);
      c.textContent = text;
      if (scope) c.setAttribute('scope', scope);
      return c;
    };
    const n = this.x.length;
    const caption = document.createElement('caption');
    caption.textContent = n ? `${this.title}: latest values at step ${this.x[n - 1]}` : `${this.title}: no steps yet`;
    const head = document.createElement('tr');
    head.append(cell('th', 'series', 'col'), cell('th', 'latest', 'col'), cell('th', 'smoothed', 'col'));
    const rows = this.curves.map((c, i) => {
      const ys = this.ys[i] ?? [];
      const tr = document.createElement('tr');
      tr.append(cell('th', c.label, 'row'), cell('td', ys.length ? c.format(ys[ys.length - 1]!) : '–'),
        cell('td', this.smoothed[i]?.length ? c.format(this.smoothed[i]!.at(-1)!) : '–'));
      return tr;
    });
    const chance = document.createElement('tr');
    chance.append(cell('th', 'chance level', 'row'), cell('td', this.chance === null ? '–' : this.chanceLabel(this.chance)), cell('td', ''));
    this.table.replaceChildren(caption, head, ...rows, chance);
  }

  /** Fraction of points along the chance line whose pixel (or a neighbour's) has the chance colour. */
  private chanceInk(): number {
    if (this.chance === null) return 0;
    const u = this.plot;
    const ctx = u.ctx;
    const y = Math.round(u.valToPos(this.chance, 'y', true));
    const { left, width } = u.bbox;
    const samples = 60;
    const target = [0x6b, 0x72, 0x80];
    let hits = 0;
    for (let i = 0; i < samples; i++) {
      const x = Math.round(left + ((i + 0.5) / samples) * width);
      const px = ctx.getImageData(x, y - 1, 1, 3).data;
      for (let r = 0; r < 3; r++) {
        const o = r * 4;
        if (px[o + 3]! > 100 && target.every((t, c) => Math.abs(px[o + c]! - t) < 40)) { hits++; break; }
      }
    }
    return hits / samples;
  }

  report(): ChartReport {
    const legend = [...this.host.querySelectorAll('.u-legend .u-series')].map((tr) => ({
      label: tr.querySelector('.u-label')?.textContent ?? '',
      value: tr.querySelector('.u-value')?.textContent ?? '',
    }));
    return {
      title: this.title, points: this.x.length, xTicks: [...this.ticks.x], yTicks: [...this.ticks.y], legend,
      chance: this.chance, chanceInk: this.chanceInk(), smoothed: this.smoothOn,
    };
  }
}

/** The loss axis spans the data and ln N, never less than LOSS_MIN_SPAN (early steps sit at ln N ± 1e-6). */
const LOSS_MIN_SPAN = 0.05;

export class LossChart extends LiveChart {
  constructor(host: HTMLElement) {
    super(host, 'InfoNCE loss', 'loss (nats)', [{ label: 'loss', color: PALETTE[0]!, format: (v) => v.toFixed(4) }]);
  }

  protected yRange(min: number | null, max: number | null): [number, number] {
    const c = this.chance;
    let lo = Math.min(min ?? c ?? 0, c ?? Infinity);
    let hi = Math.max(max ?? c ?? 1, c ?? -Infinity);
    if (hi - lo < LOSS_MIN_SPAN) {
      const mid = (hi + lo) / 2;
      lo = mid - LOSS_MIN_SPAN / 2;
      hi = mid + LOSS_MIN_SPAN / 2;
    }
    const pad = 0.08 * (hi - lo);
    return [Math.max(0, lo - pad), hi + pad];
  }

  protected yTick(ticks: number[], incr: number): string[] {
    return tickLabels(ticks, incr);
  }

  protected chanceLabel(v: number): string {
    return `ln N = ${v.toFixed(3)}`;
  }

  push(rows: readonly MetricsRow[]): void {
    for (const r of rows) {
      this.x.push(r.step);
      this.ys[0]!.push(r.loss);
    }
    this.redrawSoon();
  }

  clear(): void {
    this.clearData();
  }
}

export class AccuracyChart extends LiveChart {
  private K = 1;

  constructor(host: HTMLElement) {
    super(host, 'CPC accuracy per prediction step k', 'accuracy', AccuracyChart.curvesFor(1));
  }

  private static curvesFor(K: number): CurveSpec[] {
    return Array.from({ length: K }, (_, k) => ({ label: `k=${k + 1}`, color: PALETTE[k % PALETTE.length]!, format: (v: number) => `${(v * 100).toFixed(1)} %` }));
  }

  protected yRange(): [number, number] {
    return [0, 1];
  }

  protected yTick(ticks: number[], incr: number): string[] {
    return tickLabels(ticks, incr, 100, '%');
  }

  protected chanceLabel(v: number): string {
    return `1/N = ${(v * 100).toFixed(1)} %`;
  }

  push(rows: readonly MetricsRow[]): void {
    for (const r of rows) {
      if (r.accPerK.length !== this.K) this.clear(r.accPerK.length);
      this.x.push(r.step);
      r.accPerK.forEach((a, k) => this.ys[k]!.push(a));
    }
    this.redrawSoon();
  }

  clear(K: number): void {
    if (K !== this.K) {
      this.K = K;
      this.setCurves(AccuracyChart.curvesFor(K));
    } else {
      this.clearData();
    }
  }
}
