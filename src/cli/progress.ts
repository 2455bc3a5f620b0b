// Training progress on stderr: a live cli-progress bar (steps/s, loss, CPC accuracy at k = 1, ETA)
// when stderr is a terminal; plain periodic lines otherwise (CI logs, pipes), because a bar redrawn
// with carriage returns turns into one unreadable line in a file.
import cliProgress from 'cli-progress';

export interface ProgressState {
  step: number;
  stepsPerS: number;
  /** Latest read-back loss / CPC accuracy at k = 1 (metrics lag the submitted step a little). */
  loss: number | null;
  acc1: number | null;
}

export interface Progress {
  update(s: ProgressState): void;
  /** A message that must not be torn by the bar. */
  log(message: string): void;
  stop(): void;
}

function fmt(v: number | null, digits: number): string {
  return v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

function etaText(remainingSteps: number, stepsPerS: number): string {
  if (!(stepsPerS > 0)) return '—';
  const s = Math.round(remainingSteps / stepsPerS);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/**
 * A progress reporter for steps (startStep, target]. `stream` defaults to process.stderr; the bar is
 * used only when it is a TTY.
 */
export function createProgress(startStep: number, target: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) return barProgress(startStep, target, stream);
  return lineProgress(startStep, target, stream);
}

function barProgress(startStep: number, target: number, stream: NodeJS.WriteStream): Progress {
  // Our own ETA (from the measured steps/s, which excludes the pipeline build before step 1) rather than
  // cli-progress's, which would count the start-up time as training time.
  const bar = new cliProgress.SingleBar({
    stream,
    format: ' {bar} {value}/{total} | {rate} steps/s | loss {loss} | acc@1 {acc} | ETA {myEta}',
    hideCursor: true,
    fps: 5,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  bar.start(target, startStep, { rate: '—', loss: '—', acc: '—', myEta: '—' });
  let stopped = false;
  return {
    update(s) {
      bar.update(s.step, {
        rate: fmt(s.stepsPerS, 2), loss: fmt(s.loss, 4), acc: fmt(s.acc1, 3), myEta: etaText(target - s.step, s.stepsPerS),
      });
    },
    log(message) {
      // Clear the bar's line, print, and let the next redraw put the bar back below.
      stream.write(`\r\x1b[K${message}\n`);
      bar.render();
    },
    stop() {
      if (!stopped) { stopped = true; bar.stop(); }
    },
  };
}

function lineProgress(startStep: number, target: number, stream: NodeJS.WriteStream): Progress {
  // About 20 lines per run, but at least one per 30 s so a slow run still shows it is alive.
  const every = Math.max(1, Math.round((target - startStep) / 20));
  let lastStep = startStep;
  let lastTime = performance.now();
  return {
    update(s) {
      const now = performance.now();
      if (s.step === lastStep) return;
      if (s.step - lastStep < every && now - lastTime < 30_000 && s.step !== target) return;
      lastStep = s.step;
      lastTime = now;
      stream.write(`step ${s.step}/${target}  loss ${fmt(s.loss, 4)}  acc@1 ${fmt(s.acc1, 3)}  ${fmt(s.stepsPerS, 2)} steps/s  ETA ${etaText(target - s.step, s.stepsPerS)}\n`);
    },
    log(message) {
      stream.write(`${message}\n`);
    },
    stop() {},
  };
}
