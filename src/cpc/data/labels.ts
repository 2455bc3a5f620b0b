// Speaker labels for WAV datasets: an optional `labels.csv` (`file,speaker`) and, for files it does
// not list, the file-name convention `<speaker>_<rest>.wav` / `<speaker>-<rest>.wav`.
import { DatasetError } from './dataset.ts';

/**
 * Speaker of a file not listed in labels.csv: the file name up to the first '_' or '-'
 * ("spk3_0001.wav" → "spk3", "alice-hello.wav" → "alice"); a name without either is its own speaker
 * ("take1.wav" → "take1").
 */
export function speakerFromFilename(file: string): string {
  const stem = file.replace(/\.(wav|flac)$/i, '');
  const cut = stem.search(/[_-]/);
  return cut > 0 ? stem.slice(0, cut) : stem;
}

/** Splits one CSV line; fields may be double-quoted with "" as an escaped quote. */
function splitCsvLine(line: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new DatasetError('labels.csv', `${where}: unterminated quoted field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new DatasetError('labels.csv', `${where}: text after a closing quote`);
    } else {
      const j = line.indexOf(',', i);
      field = j < 0 ? line.slice(i) : line.slice(i, j);
      i = j < 0 ? line.length : j;
    }
    out.push(field.trim());
    if (i >= line.length) return out;
    i++; // the comma
  }
}

/**
 * Parses `labels.csv`: a header `file,speaker` (case-insensitive; extra columns are ignored), then
 * one row per file. Blank lines are skipped. Returns file name → speaker name. A duplicate file, an
 * empty speaker or a missing column is an error naming the line.
 */
export function parseSpeakerLabels(text: string, source = 'labels.csv'): Map<string, string> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '', `${source} line 1`).map((h) => h.toLowerCase());
  const fileCol = header.indexOf('file');
  const spkCol = header.indexOf('speaker');
  if (fileCol < 0 || spkCol < 0) {
    throw new DatasetError('labels.csv', `${source}: the first line must be a header with columns 'file' and 'speaker', got '${(lines[0] ?? '').slice(0, 80)}'`);
  }
  const map = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const where = `${source} line ${i + 1}`;
    const cells = splitCsvLine(line, where);
    const file = cells[fileCol];
    const speaker = cells[spkCol];
    if (!file || !speaker) throw new DatasetError('labels.csv', `${where}: needs both a file and a speaker`);
    if (map.has(file)) throw new DatasetError('labels.csv', `${where}: file '${file}' is listed twice`);
    map.set(file, speaker);
  }
  return map;
}

/** labels.csv rows must name files of the corpus: a typo or a case mismatch would silently mislabel speakers. */
export function checkLabelsCover(labels: Map<string, string>, files: readonly string[], source: string): void {
  const present = new Set(files);
  const missing = [...labels.keys()].filter((f) => !present.has(f));
  if (missing.length === 0) return;
  const lower = new Map(files.map((f) => [f.toLowerCase(), f]));
  const hint = lower.get(missing[0]!.toLowerCase());
  throw new DatasetError('labels.csv', `${source}: ${missing.length} row${missing.length > 1 ? 's name' : ' names'} no audio file of the corpus (${missing.slice(0, 3).map((m) => `'${m}'`).join(', ')}${missing.length > 3 ? ', …' : ''})${hint ? `; did you mean '${hint}'?` : ''}`);
}
